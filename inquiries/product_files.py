"""Product knowledge files: reading a JSON or CSV file into products (every problem listed, with its line
or item), and the export the import takes back unchanged."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from inquiries.models import ProductFact, ProductKnowledge
from inquiries.product_checks import (
    ALIAS_SEPARATOR,
    ProductEntry,
    check_entry,
    product_aliases_clean,
    product_fact_check,
)
from markets.models import MarketAccount
from partialauto import datafiles
from partialauto.datafiles import DataFileError, Problems

CSV_REQUIRED = ("product_id", "name", "fact")
CSV_OPTIONAL = ("aliases",)
JSON_KEYS = ("product_id", "name", "facts", "aliases")


def _text(value: Any) -> str | None:
    """A JSON scalar as text (ids may be numbers); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        return str(value).strip()
    return None


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
        check_entry(entry, problems)
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


# --- export ---------------------------------------------------------------------------------------


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
