"""What a product's knowledge may be: a product as a file or a form states it, and the checks (with
their sentences) that the admin's forms, the file import and the writes share — one fact, a product id,
aliases, and ids another product of the same scope already answers to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from inquiries.models import ProductKnowledge
from markets.models import MarketAccount
from partialauto.datafiles import Problems
from partialauto.db import max_length

FACT_MAX_CHARS = 500
PRODUCT_ID_MAX = max_length(ProductKnowledge, "product_id")
NAME_MAX = max_length(ProductKnowledge, "name")
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


def id_owners(account: MarketAccount | None, exclude_product_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
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
    :func:`id_owners` call) saves the look-up when many products are checked at once."""
    if owners is None:
        owners = id_owners(account, exclude_product_ids)
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


def check_entry(entry: ProductEntry, problems: Problems) -> None:
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
