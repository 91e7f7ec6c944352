"""Load the facts answers are written from, for a batch of inquiries (a few queries per batch).

Per inquiry: the order lines it names (from the order mirror; an order not mirrored yet gets one
targeted look-up at the marketplace when ``lookups`` is allowed, outside any transaction), the
account's shipping policy, and the seller's facts about the product it is about.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q

from inquiries.agent.facts import (
    LOOKUP_MIRROR,
    LOOKUP_NONE,
    LOOKUP_NOT_MIRRORED,
    InquiryFacts,
    OrderFact,
    ProductFact,
    ProductFacts,
    ShippingFacts,
)
from inquiries.models import ProductFact as ProductFactRow
from inquiries.models import ProductKnowledge
from markets.models import MarketAccount, MarketOrder, ShippingPolicy
from partialauto.db import in_transaction


def order_refs(inquiry: Any) -> tuple[list[str], list[str], list[str]]:
    """(order ids, Naver product order ids, marketplace item ids) an inquiry names."""
    refs = _get(inquiry, "order_refs") or {}
    order_ids = [str(i) for i in refs.get("order_ids") or ()]
    first = _get(inquiry, "order_id")
    if first and str(first) not in order_ids:
        order_ids.insert(0, str(first))
    return (
        order_ids,
        [str(i) for i in refs.get("product_order_ids") or ()],
        [str(i) for i in refs.get("item_ids") or ()],
    )


def product_refs(inquiry: Any) -> list[str]:
    refs = [str(i) for i in _get(inquiry, "product_refs") or ()]
    first = _get(inquiry, "product_id")
    if first and str(first) not in refs:
        refs.insert(0, str(first))
    return refs


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def shipping_facts(policy: ShippingPolicy) -> ShippingFacts:
    from markets.models import Carrier

    return ShippingFacts(
        account_id=str(policy.account_id),
        complete=policy.is_complete,
        dispatch_cutoff=policy.dispatch_cutoff,
        dispatch_lead_days=policy.dispatch_lead_days,
        ships_on_saturday=policy.ships_on_saturday,
        carrier_name=str(Carrier(policy.carrier_code).label) if policy.carrier_code in Carrier.values else "",
        transit_days_min=policy.transit_days_min,
        transit_days_max=policy.transit_days_max,
        base_fee=policy.base_fee,
        free_shipping_threshold=policy.free_shipping_threshold,
        jeju_surcharge=policy.jeju_surcharge,
        remote_surcharge=policy.remote_surcharge,
        return_fee=policy.return_fee,
        exchange_fee=policy.exchange_fee,
        return_address=policy.return_address,
        dawn_delivery=policy.dawn_delivery,
        convenience_pickup=policy.convenience_pickup,
        overseas_shipping=policy.overseas_shipping,
        stalled_after_days=policy.stalled_after_days,
        updated_at=policy.updated_at,
    )


# --- product knowledge: every active product, indexed by each of its ids, reloaded when it changes ------


@dataclass(frozen=True)
class _Catalog:
    version: tuple
    by_id: dict[tuple[str | None, str], ProductFacts]  # (account id or None for shared, product id) → facts


_catalog_lock = threading.Lock()
_catalog: _Catalog | None = None


def _catalog_version() -> tuple:
    products = ProductKnowledge.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    facts = ProductFactRow.objects.aggregate(n=Count("id"), last=Max("id"))
    return products["n"], products["at"], facts["n"], facts["last"]


def product_catalog() -> dict[tuple[str | None, str], ProductFacts]:
    """The seller's product knowledge by (account, product id); rebuilt only after an edit."""
    global _catalog
    version = _catalog_version()
    with _catalog_lock:
        if _catalog is not None and _catalog.version == version:
            return _catalog.by_id
    by_id: dict[tuple[str | None, str], ProductFacts] = {}
    for product in ProductKnowledge.objects.filter(is_active=True).prefetch_related("facts").order_by("pk"):
        facts = ProductFacts(
            product.product_id,
            product.name,
            tuple(ProductFact(str(f.pk), f.text) for f in product.facts.all() if f.text.strip()),
            product.updated_at,
        )
        account = str(product.account_id) if product.account_id else None
        for pid in product.all_ids:
            by_id.setdefault((account, pid), facts)
    with _catalog_lock:
        _catalog = _Catalog(version, by_id)
    return by_id


def product_for(account_id: Any, refs: Sequence[str], catalog: dict) -> ProductFacts | None:
    """The account's own knowledge of the product first, then knowledge shared by every account."""
    account = str(account_id) if account_id else None
    for scope in (account, None) if account else (None,):
        for ref in refs:
            found = catalog.get((scope, ref))
            if found is not None:
                return found
    return None


# --- the batch -------------------------------------------------------------------------------------------


_ORDER_FIELDS = (
    "account_id",
    "line_id",
    "order_id",
    "status",
    "raw_status",
    "claim_type",
    "claim_status",
    "delivery_issue",
    "carrier_name",
    "tracking_number",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "expected_dispatch_date",
    "last_movement_at",
    "product_ids",
    "product_name",
    "synced_at",
    "fingerprint",
)


@dataclass(frozen=True)
class _MirroredLine:
    account_id: str
    order_id: str
    line_id: str
    fact: OrderFact


def _orders(keys: set[tuple[str, str]], lines: set[tuple[str, str]]) -> list[_MirroredLine]:
    """Mirror rows by (account, order id) and by (account, line id), as facts (no model instances: a
    batch of decisions reads thousands of them)."""
    if not keys and not lines:
        return []
    accounts = {a for a, _o in keys} | {a for a, _l in lines}
    cond = Q(order_id__in={o for _a, o in keys}) | Q(line_id__in={line for _a, line in lines})
    out = []
    # The account ids are the text of UUIDs, which Django takes for a UUID primary key.
    for row in MarketOrder.objects.filter(cond, account_id__in=accounts).values(*_ORDER_FIELDS):  # type: ignore[misc]  # django-stubs types lookups on a UUID key as UUID only
        account = str(row.pop("account_id"))
        if (account, row["order_id"]) in keys or (account, row["line_id"]) in lines:
            row["product_ids"] = tuple(str(p) for p in row["product_ids"] or ())
            out.append(_MirroredLine(account, row["order_id"], row["line_id"], OrderFact(**row)))
    return out


def load_facts(
    inquiries: Iterable[Any],
    *,
    now: dt.datetime,
    lookups: bool,
    account: MarketAccount | None = None,
    accounts: dict | None = None,
) -> list[InquiryFacts]:
    """``InquiryFacts`` for each inquiry, in order. ``lookups``: ask the marketplace once
    for each order the mirror does not have (never inside a transaction). ``account``: judge items that
    belong to no stored account (simulation input) with this account's policy and knowledge."""
    items = list(inquiries)
    account_of = {id(i): str(_get(i, "account_id") or (account.pk if account else "")) or None for i in items}
    policies = {
        str(p.account_id): shipping_facts(p)
        for p in ShippingPolicy.objects.filter(account_id__in={a for a in account_of.values() if a})
    }
    keys, line_keys = set(), set()
    for item in items:
        acc = account_of[id(item)]
        orders, pos, _items = order_refs(item)
        if acc:
            keys |= {(acc, o) for o in orders}
            line_keys |= {(acc, p) for p in pos}
    rows = _orders(keys, line_keys)
    lookup_results: dict[tuple[str, str], Any] = {}
    if lookups and in_transaction():
        raise RuntimeError("order look-ups must not run inside a transaction")
    if lookups:
        found = {(r.account_id, r.order_id) for r in rows} | {(r.account_id, r.line_id) for r in rows}
        lookup_results = _look_up_missing(items, account_of, found, accounts or {}, now)
        if any(result.outcome == "found" for result in lookup_results.values()):
            rows = _orders(keys, line_keys)
    by_order: dict[tuple[str, str], list[_MirroredLine]] = {}
    by_line: dict[tuple[str, str], _MirroredLine] = {}
    for row in rows:
        by_order.setdefault((row.account_id, row.order_id), []).append(row)
        by_line[(row.account_id, row.line_id)] = row
    catalog = product_catalog()
    result: list[InquiryFacts] = []
    for item in items:
        acc = account_of[id(item)]
        orders, pos, _item_ids = order_refs(item)
        lines: dict[str, _MirroredLine] = {}
        if acc is not None:  # an item of no account has no mirrored lines
            for o in orders:
                lines.update({r.line_id: r for r in by_order.get((acc, o), ())})
            for p in pos:
                if (acc, p) in by_line:
                    lines[p] = by_line[(acc, p)]
        outcome, error = LOOKUP_NONE, ""
        if orders or pos:
            outcome = LOOKUP_MIRROR if lines else LOOKUP_NOT_MIRRORED
            looked = lookup_results.get((acc, (orders or pos)[0])) if acc is not None else None
            if looked is not None:
                outcome, error = looked.outcome, looked.error
        result.append(
            InquiryFacts(
                now=now,
                order_ids=tuple(orders or pos),
                order_lookup=outcome,
                lookup_error=error,
                orders=tuple(r.fact for r in sorted(lines.values(), key=lambda r: r.line_id)),
                shipping=policies.get(acc) if acc else None,
                product=product_for(acc, product_refs(item), catalog),
            )
        )
    return result


def _look_up_missing(items: list, account_of: dict, found: set, accounts: dict, now: dt.datetime) -> dict:
    """One targeted look-up per order none of the mirror's lines belong to (each order once)."""
    from markets.orders import lookup_order

    results: dict[tuple[str, str], Any] = {}
    for item in items:
        acc = account_of[id(item)]
        orders, pos, _items = order_refs(item)
        if not acc or not (orders or pos):
            continue
        if any((acc, o) in found for o in orders) or any((acc, p) in found for p in pos):
            continue
        key = (acc, (orders or pos)[0])
        if key in results:
            continue
        account = accounts.get(acc) or MarketAccount.objects.get(pk=acc)
        accounts[acc] = account
        results[key] = lookup_order(
            account, order_id=orders[0] if orders else None, product_order_ids=pos or None, now=now
        )
    return results
