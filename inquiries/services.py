"""Writes of the seller's product knowledge (ProductKnowledge and its ProductFact sentences): the admin's
edits, and the file import of the ``product_knowledge`` command and the admin's upload page. The checks
are in :mod:`inquiries.product_checks`, reading and exporting files in :mod:`inquiries.product_files`.

A product's facts are replaced as a whole: the facts given become its facts, in that order. Unchanged
sentences keep their rows, so the history shows only what really changed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from inquiries.models import ProductFact, ProductKnowledge
from inquiries.product_checks import (
    ProductEntry,
    check_entry,
    id_owners,
    product_aliases_clean,
    product_fact_check,
    product_knowledge_id_conflicts,
)
from inquiries.product_files import product_knowledge_parse
from markets.models import MarketAccount
from partialauto.datafiles import DataFileError, Problems

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


@dataclass
class ProductKnowledgeImportResult:
    account: MarketAccount | None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    facts_written: int = 0  # the facts the imported products now have
    facts_added: int = 0
    facts_removed: int = 0
    written: list[tuple[ProductKnowledge, str]] = field(default_factory=list)  # (product, created/updated/unchanged)


@dataclass(frozen=True)
class _Written:
    product: ProductKnowledge
    status: str  # created / updated / unchanged
    added: int
    removed: int


def _history(obj, actor: AbstractBaseUser | None, reason: str) -> None:
    # django-simple-history reads these two attributes when it writes the history row.
    obj._change_reason = reason[:100] or None
    if actor is not None:
        obj._history_user = actor


def _set_facts(
    product: ProductKnowledge, texts: Sequence[str], *, actor: AbstractBaseUser | None, reason: str
) -> tuple[int, int, int]:
    """Make ``texts`` the product's facts in that order; returns (added, removed, moved)."""
    unused: dict[str, list[ProductFact]] = {}
    for fact in product.facts.order_by("sort_order", "id"):
        unused.setdefault(fact.text, []).append(fact)
    added = moved = 0
    for position, text in enumerate(texts):
        matches = unused.get(text)
        if matches:
            fact = matches.pop(0)
            if fact.sort_order != position:
                moved += 1
                fact.sort_order = position
                _history(fact, actor, reason)
                fact.save(update_fields=["sort_order"])
            continue
        fact = ProductFact(product=product, text=text, sort_order=position)
        _history(fact, actor, reason)
        fact.save()
        added += 1
    removed = 0
    for facts in unused.values():
        for fact in facts:
            _history(fact, actor, reason)
            fact.delete()
            removed += 1
    return added, removed, moved


def _write(
    *, product: ProductKnowledge, facts: Sequence[str] | None, actor: AbstractBaseUser | None, reason: str
) -> _Written:
    """Save ``product`` (its fields as set by the caller) and, unless ``facts`` is None, its facts."""
    created = product.pk is None
    changed_fields = True
    if not created:
        stored = ProductKnowledge.objects.select_for_update().get(pk=product.pk)
        changed_fields = any(
            getattr(stored, f) != getattr(product, f)
            for f in ("account_id", "product_id", "name", "aliases", "is_active")
        )
    try:
        product.full_clean()
    except ValidationError as exc:
        raise DataFileError(
            [f"{product.product_id}: {m}" for messages in exc.message_dict.values() for m in messages]
        ) from None
    if created:
        _history(product, actor, reason)
        product.save()
    added = removed = moved = 0
    if facts is not None:
        added, removed, moved = _set_facts(product, facts, actor=actor, reason=reason)
    if created:
        return _Written(product, "created", added, removed)
    if not changed_fields and not added and not removed and not moved:
        return _Written(product, "unchanged", 0, 0)
    note = (
        _("사실 +%(added)s −%(removed)s, 순서 변경 %(moved)s") % {"added": added, "removed": removed, "moved": moved}
        if added or removed or moved
        else ""
    )
    _history(product, actor, f"{reason} ({note})" if reason and note else reason or note)
    # Saved even when only its facts changed: the product's history shows every edit, and its updated_at
    # tells the answer side's product cache (inquiries.facts) that something changed.
    product.save()
    return _Written(product, "updated", added, removed)


@transaction.atomic
def product_knowledge_replace(
    *,
    account: MarketAccount | None,
    product_id: str,
    name: str,
    facts: Sequence[str],
    aliases: Sequence[str] | None = None,
    actor: AbstractBaseUser | None = None,
    reason: str = "",
) -> ProductKnowledge:
    """Create or replace one product's knowledge: its name, its facts (in this order) and, unless None,
    its aliases. Raises :class:`DataFileError` when something is not allowed; writes nothing then."""
    product_id = str(product_id).strip()
    problems = Problems()
    if aliases is not None:
        aliases, alias_problems = product_aliases_clean(aliases, product_id=product_id)
        for alias_problem in alias_problems:
            problems.add(f"{product_id}: {alias_problem}")
    entry = ProductEntry(
        product_id,
        name.strip(),
        tuple(f.strip() for f in facts),
        None if aliases is None else tuple(aliases),
        where=product_id,
    )
    check_entry(entry, problems)
    for conflict in product_knowledge_id_conflicts(
        account=account, ids=[product_id, *(aliases or ())], exclude_product_ids=[product_id]
    ):
        problems.add(f"{entry.where}: {conflict}")
    for fact in entry.facts:
        if problem := product_fact_check(fact):
            problems.add(f"{entry.where}: {problem}")
    if len(set(entry.facts)) != len(entry.facts):
        problems.add(_("%(where)s: 같은 사실이 두 번 있습니다. 한 번만 적어 주세요.") % {"where": entry.where})
    problems.raise_if_any()
    return _store(entry, account=account, actor=actor, reason=reason).product


def _store(
    entry: ProductEntry, *, account: MarketAccount | None, actor: AbstractBaseUser | None, reason: str
) -> _Written:
    product = ProductKnowledge.objects.select_for_update().filter(
        account=account, product_id=entry.product_id
    ).first() or ProductKnowledge(account=account, product_id=entry.product_id)
    product.name = entry.name
    if entry.aliases is not None:
        product.aliases = list(entry.aliases)
    return _write(product=product, facts=entry.facts, actor=actor, reason=reason)


@transaction.atomic
def product_knowledge_save(
    *, product: ProductKnowledge, facts: Sequence[str] | None, actor: AbstractBaseUser | None = None, reason: str = ""
) -> ProductKnowledge:
    """Save a product edited in the admin (its fields already set) with its facts in order (None: keep)."""
    texts = None if facts is None else [f.strip() for f in facts if f and f.strip()]
    return _write(product=product, facts=texts, actor=actor, reason=reason).product


def product_knowledge_import(
    *,
    raw: bytes,
    filename: str = "",
    fmt: str | None = None,
    account: MarketAccount | None = None,
    actor: AbstractBaseUser | None = None,
) -> ProductKnowledgeImportResult:
    """Import a JSON or CSV file for ``account`` (None: the knowledge every account shares). Each product
    in the file gets exactly the file's name and facts (and aliases, when the file has them); products
    not in the file are left alone. All or nothing: a :class:`DataFileError` lists every problem."""
    entries = product_knowledge_parse(raw=raw, filename=filename, fmt=fmt)
    problems = Problems()
    owners = id_owners(account, [e.product_id for e in entries])  # the file's products are being replaced
    for entry in entries:
        ids = [entry.product_id, *(entry.aliases or ())]
        for conflict in product_knowledge_id_conflicts(account=account, ids=ids, owners=owners):
            problems.add(f"{entry.where}: {conflict}")
    problems.raise_if_any()
    result = ProductKnowledgeImportResult(account=account)
    reason = _("파일에서 가져옴: %(file)s") % {"file": os.path.basename(filename) or "-"}
    with transaction.atomic():
        for entry in entries:
            written = _store(entry, account=account, actor=actor, reason=reason)
            setattr(result, written.status, getattr(result, written.status) + 1)
            result.facts_written += len(entry.facts)
            result.facts_added += written.added
            result.facts_removed += written.removed
            result.written.append((written.product, written.status))
    return result
