"""Writes of the seller's product knowledge (ProductKnowledge and its ProductFact sentences): the admin's
edits, the file import of the ``product_knowledge`` command and the admin's upload page, and the export.

A product's facts are replaced as a whole: the facts given become its facts, in that order. Unchanged
sentences keep their rows, so the history shows only what really changed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from inquiries.models import ProductFact, ProductKnowledge
from markets.models import MarketAccount
from partialauto import datafiles
from partialauto.datafiles import DataFileError, Problems
from partialauto.db import max_length

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

FACT_MAX_CHARS = 500
PRODUCT_ID_MAX = max_length(ProductKnowledge, "product_id")
NAME_MAX = max_length(ProductKnowledge, "name")
CSV_REQUIRED = ("product_id", "name", "fact")
CSV_OPTIONAL = ("aliases",)
JSON_KEYS = ("product_id", "name", "facts", "aliases")
ALIAS_SEPARATOR = "|"
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ProductEntry:
    """One product as a file states it. ``aliases`` is None when the file does not mention them."""

    product_id: str
    name: str
    facts: tuple[str, ...]
    aliases: tuple[str, ...] | None = None
    where: str = ""


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


# --- checks (shared with the admin's forms) ------------------------------------------------------


def product_fact_check(text: str) -> str | None:
    """Why ``text`` cannot be a fact, or None. One sentence on one line, 1–500 characters."""
    if not text or not text.strip():
        return _("사실이 비어 있습니다. 한 문장을 적어 주세요.")
    if "\n" in text.strip() or "\r" in text.strip():
        return _("사실 하나에 줄바꿈이 있습니다. 사실은 한 줄에 한 문장으로 적고, 여러 사실은 따로 나눠 적어 주세요.")
    if len(text.strip()) > FACT_MAX_CHARS:
        return _("사실이 너무 깁니다 (%(n)s자). 한 문장으로 %(max)s자 이하로 적어 주세요.") % {
            "n": len(text.strip()),
            "max": FACT_MAX_CHARS,
        }
    return None


def product_id_check(value: str, *, what: str) -> str | None:
    """Why ``value`` cannot be a product id (``what`` names it in the message), or None."""
    if not value:
        return _("%(what)s이(가) 비어 있습니다. 마켓의 상품 ID를 적어 주세요.") % {"what": what}
    if _SPACE.search(value):
        return _("%(what)s '%(value)s'에 공백이 있습니다. 공백 없이 적어 주세요.") % {"what": what, "value": value}
    if ALIAS_SEPARATOR in value:
        return _("%(what)s '%(value)s'에 '|'가 있습니다. '|'는 여러 ID를 나누는 기호라 ID에 쓸 수 없습니다.") % {
            "what": what,
            "value": value,
        }
    if len(value) > PRODUCT_ID_MAX:
        return _("%(what)s '%(value)s'이(가) 너무 깁니다. %(max)s자 이하로 적어 주세요.") % {
            "what": what,
            "value": value[:20] + "…",
            "max": PRODUCT_ID_MAX,
        }
    return None


def product_aliases_clean(values: Iterable[Any], *, product_id: str) -> tuple[list[str], list[str]]:
    """(aliases, problems): ids as text, blanks and repeats and the product's own id dropped."""
    aliases: list[str] = []
    problems: list[str] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems.append(_("같은 상품의 다른 ID는 글자나 숫자로 적어 주세요. 입력값: %(value)s") % {"value": value})
            continue
        alias = str(value).strip()
        if not alias or alias == product_id or alias in aliases:
            continue
        problem = product_id_check(alias, what=_("다른 ID"))
        if problem:
            problems.append(problem)
        else:
            aliases.append(alias)
    return aliases, problems


def _id_owners(account: MarketAccount | None, exclude_product_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Every id the products of one scope answer to → (its product id, its name)."""
    exclude = set(exclude_product_ids)
    owners: dict[str, tuple[str, str]] = {}
    for other in ProductKnowledge.objects.filter(account=account).only("product_id", "aliases", "name"):
        if other.product_id not in exclude:
            for product_id in other.all_ids:
                owners.setdefault(product_id, (other.product_id, other.name))
    return owners


def product_knowledge_id_conflicts(
    *,
    account: MarketAccount | None,
    ids: Sequence[str],
    exclude_product_ids: Iterable[str] = (),
    owners: dict[str, tuple[str, str]] | None = None,
) -> list[str]:
    """Sentences for ids that another product of the same scope (the account, or the shared knowledge)
    already answers to: a question about that id would match two products. ``owners`` (from one
    :func:`_id_owners` call) saves the look-up when many products are checked at once."""
    if owners is None:
        owners = _id_owners(account, exclude_product_ids)
    conflicts = []
    for product_id in ids:
        owner = owners.get(product_id)
        if owner is not None:
            conflicts.append(
                _(
                    "ID %(id)s — 이미 다른 상품 '%(name)s'(상품 ID %(other)s)의 ID입니다. 한 ID는 한 상품에만 "
                    "쓸 수 있습니다."
                )
                % {"id": product_id, "name": owner[1], "other": owner[0]}
            )
    return conflicts


# --- reading a file ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A JSON scalar as text (ids may be numbers); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        return str(value).strip()
    return None


def _check_entry(entry: ProductEntry, problems: Problems) -> None:
    where = entry.where
    problem = product_id_check(entry.product_id, what="product_id")
    if problem:
        problems.add(f"{where}: {problem}")
    if not entry.name:
        problems.add(_("%(where)s: name(상품명)이 비어 있습니다. 상품명을 적어 주세요.") % {"where": where})
    elif len(entry.name) > NAME_MAX:
        problems.add(
            _("%(where)s: name(상품명)이 너무 깁니다 (%(n)s자). %(max)s자 이하로 적어 주세요.")
            % {"where": where, "n": len(entry.name), "max": NAME_MAX}
        )


def _entries_from_json(text: str, problems: Problems) -> list[ProductEntry]:
    data = datafiles.parse_json(text)
    if not isinstance(data, list):
        raise DataFileError(
            _('JSON의 맨 바깥은 상품 목록이어야 합니다: [{"product_id": …, "name": …, "facts": ["한 문장", …]}, …]')
        )
    entries = []
    for number, item in enumerate(data, start=1):
        where = _("%(n)s번째 항목") % {"n": number}
        if not isinstance(item, dict):
            problems.add(
                _('%(where)s: 상품은 {"product_id": …, "name": …, "facts": […]} 같은 객체여야 합니다.')
                % {"where": where}
            )
            continue
        unknown = [k for k in item if k not in JSON_KEYS]
        if unknown:
            problems.add(
                _("%(where)s: 알 수 없는 키입니다: %(keys)s. 쓸 수 있는 키: %(allowed)s")
                % {"where": where, "keys": ", ".join(map(str, unknown)), "allowed": ", ".join(JSON_KEYS)}
            )
        product_id = _text(item.get("product_id"))
        name = item.get("name")
        if product_id is None and "product_id" in item:
            problems.add(_("%(where)s: product_id는 글자나 숫자여야 합니다.") % {"where": where})
        where = f"{where} ({product_id})" if product_id else where
        if name is not None and not isinstance(name, str):
            problems.add(_("%(where)s: name(상품명)은 글자여야 합니다.") % {"where": where})
            name = ""
        facts_value = item.get("facts")
        facts: list[str] = []
        if not isinstance(facts_value, list) or not facts_value:
            problems.add(
                _('%(where)s: facts가 없거나 비어 있습니다. ["한 문장", …]처럼 사실을 한 개 이상 적어 주세요.')
                % {"where": where}
            )
        else:
            for index, fact in enumerate(facts_value, start=1):
                if not isinstance(fact, str):
                    problems.add(
                        _("%(where)s facts의 %(i)s번째: 사실은 글자(한 문장)여야 합니다.")
                        % {"where": where, "i": index}
                    )
                    continue
                problem = product_fact_check(fact)
                if problem:
                    problems.add(
                        _("%(where)s facts의 %(i)s번째: %(problem)s") % {"where": where, "i": index, "problem": problem}
                    )
                elif fact.strip() in facts:
                    problems.add(
                        _("%(where)s facts의 %(i)s번째: 같은 사실이 %(first)s번째에도 있습니다. 한 번만 적어 주세요.")
                        % {"where": where, "i": index, "first": facts.index(fact.strip()) + 1}
                    )
                else:
                    facts.append(fact.strip())
        aliases: tuple[str, ...] | None = None
        if "aliases" in item:
            if not isinstance(item["aliases"], list):
                problems.add(_('%(where)s: aliases는 ["다른 ID", …] 목록이어야 합니다.') % {"where": where})
            else:
                cleaned, alias_problems = product_aliases_clean(item["aliases"], product_id=product_id or "")
                for problem in alias_problems:
                    problems.add(f"{where}: {problem}")
                aliases = tuple(cleaned)
        entries.append(ProductEntry(product_id or "", (name or "").strip(), tuple(facts), aliases, where))
    return entries


def _entries_from_csv(text: str, problems: Problems) -> list[ProductEntry]:
    rows = datafiles.parse_csv(text, required=CSV_REQUIRED, optional=CSV_OPTIONAL)
    has_aliases = "aliases" in rows[0].values
    # product_id → what its rows say, in file order; a product's rows must come one after another.
    products: dict[str, dict[str, Any]] = {}
    previous = skipping = None
    for row in rows:
        where = _("%(line)s행") % {"line": row.line}
        product_id, name, fact = row.values["product_id"], row.values["name"], row.values["fact"]
        if not product_id:
            problems.add(_("%(where)s: product_id가 비어 있습니다. 마켓의 상품 ID를 적어 주세요.") % {"where": where})
            continue
        current = products.get(product_id)
        if product_id == skipping:
            continue  # the rest of a repeated block: one message is enough
        if current is None:
            current = products[product_id] = {
                "where": _("%(line)s행 (%(id)s)") % {"line": row.line, "id": product_id},
                "line": row.line,
                "name": name,
                "facts": [],
                "fact_lines": {},
                "aliases": [],
            }
        elif previous != product_id:
            problems.add(
                _(
                    "%(where)s: product_id %(id)s — %(first)s행에 이미 나온 상품입니다 (중복). 한 상품의 행은 "
                    "이어서 한 번만 적어 주세요."
                )
                % {"where": where, "id": product_id, "first": current["line"]}
            )
            previous = skipping = product_id
            continue
        elif name != current["name"]:
            problems.add(
                _(
                    "%(where)s: 같은 상품(%(id)s)의 상품명이 %(first)s행과 다릅니다. 한 상품의 행에는 같은 상품명을 "
                    "적어 주세요."
                )
                % {"where": where, "id": product_id, "first": current["line"]}
            )
        previous, skipping = product_id, None
        problem = product_fact_check(fact)
        if problem:
            problems.add(f"{where}: fact: {problem}")
        elif fact in current["fact_lines"]:
            problems.add(
                _("%(where)s: 같은 사실이 %(first)s행에도 있습니다. 한 번만 적어 주세요.")
                % {"where": where, "first": current["fact_lines"][fact]}
            )
        else:
            current["facts"].append(fact)
            current["fact_lines"][fact] = row.line
        if has_aliases:
            cells = row.values.get("aliases", "").split(ALIAS_SEPARATOR)
            aliases, alias_problems = product_aliases_clean(cells, product_id=product_id)
            for problem in alias_problems:
                problems.add(f"{where}: {problem}")
            current["aliases"].extend(a for a in aliases if a not in current["aliases"])
    return [
        ProductEntry(product_id, p["name"], tuple(p["facts"]), tuple(p["aliases"]) if has_aliases else None, p["where"])
        for product_id, p in products.items()
    ]


def product_knowledge_parse(*, raw: bytes, filename: str = "", fmt: str | None = None) -> list[ProductEntry]:
    """The products of a JSON or CSV file, or a :class:`DataFileError` listing every problem (line or
    item, what is wrong, what is allowed)."""
    text = datafiles.decode(raw)
    fmt = datafiles.detect_format(filename=filename, text=text, fmt=fmt)
    problems = Problems()
    entries = _entries_from_json(text, problems) if fmt == datafiles.JSON else _entries_from_csv(text, problems)
    claimed: dict[str, ProductEntry] = {}  # every id of the file → the entry that uses it
    for entry in entries:
        _check_entry(entry, problems)
        if not entry.product_id:
            continue
        first = claimed.get(entry.product_id)
        if first is not None and first.product_id == entry.product_id:
            problems.add(
                _(
                    "%(where)s: product_id %(id)s — %(first)s에도 같은 상품이 있습니다 (중복). "
                    "한 파일에 같은 상품은 한 번만 "
                    "적어 주세요."
                )
                % {"where": entry.where, "id": entry.product_id, "first": first.where}
            )
            continue
        for product_id in (entry.product_id, *(entry.aliases or ())):
            other = claimed.get(product_id)
            if other is not None and other.product_id != entry.product_id:
                problems.add(
                    _("%(where)s: ID %(id)s — %(first)s의 상품도 같은 ID를 씁니다. 한 ID는 한 상품에만 쓸 수 있습니다.")
                    % {"where": entry.where, "id": product_id, "first": other.where}
                )
            else:
                claimed[product_id] = entry
    problems.raise_if_any()
    return entries


# --- writing -------------------------------------------------------------------------------------


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
    _check_entry(entry, problems)
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
    owners = _id_owners(account, [e.product_id for e in entries])  # the file's products are being replaced
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


# --- export --------------------------------------------------------------------------------------


def product_knowledge_export(
    *,
    account: MarketAccount | None = None,
    fmt: str = datafiles.JSON,
    products: QuerySet[ProductKnowledge] | None = None,
) -> str:
    """The knowledge of ``account`` (None: the shared knowledge), or the given products, as a file the
    import takes back unchanged: JSON (a list of products) or CSV (a row per fact)."""
    if fmt not in datafiles.FORMATS:
        raise DataFileError(_("알 수 없는 형식입니다: %(fmt)s. json 또는 csv만 됩니다.") % {"fmt": fmt})
    if products is None:
        products = ProductKnowledge.objects.filter(account=account)
    products = products.order_by("product_id").prefetch_related(
        Prefetch("facts", queryset=ProductFact.objects.order_by("sort_order", "id"))
    )
    if fmt == datafiles.JSON:
        return datafiles.to_json(
            [
                {
                    "product_id": p.product_id,
                    "name": p.name,
                    "aliases": list(map(str, p.aliases or [])),
                    "facts": [f.text for f in p.facts.all()],
                }
                for p in products
            ]
        )
    rows = [
        [p.product_id, p.name, f.text, ALIAS_SEPARATOR.join(map(str, p.aliases or []))]
        for p in products
        for f in p.facts.all()
    ]
    return datafiles.to_csv([*CSV_REQUIRED, *CSV_OPTIONAL], rows)
