"""Writing order lines into the mirror (``market_order``): merge each line with what is stored, upsert in
short batched transactions, put Coupang cancel/return requests on the boxes they name, and record
unreadable payloads. Used by the sync and the targeted look-up in ``markets.orders``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from markets.clients.orders import CLAIM_RETURN, RemoteClaim, RemoteOrderLine, order_fingerprint
from markets.clients.types import Malformed
from markets.models import MalformedPayload, MarketAccount, MarketCode, MarketOrder
from partialauto.db import copy_upsert

log = logging.getLogger("partialauto.orders")

UPSERT_BATCH = 500
_WRITE_FIELDS = (
    "market_code",
    "order_id",
    "status",
    "raw_status",
    "claim_type",
    "claim_status",
    "delivery_issue",
    "carrier_code",
    "carrier_name",
    "tracking_number",
    "ordered_at",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "expected_dispatch_date",
    "last_movement_at",
    "product_ids",
    "product_name",
    "quantity",
    "fingerprint",
    "raw_payload",
    "synced_at",
)


def _fingerprint(row: MarketOrder) -> str:
    return order_fingerprint(
        row.status,
        row.raw_status,
        row.claim_type,
        row.claim_status,
        row.delivery_issue,
        row.carrier_code,
        row.tracking_number,
        row.delivered_at,
        row.expected_dispatch_date,
    )


def _merge(account: MarketAccount, line: RemoteOrderLine, old: MarketOrder | None, now: datetime) -> MarketOrder:
    """The row to store for ``line``, given what is stored now."""
    row = MarketOrder(
        account=account,
        market_code=line.market_code,
        order_id=line.order_id[:40],
        line_id=line.line_id[:40],
        status=line.status,
        raw_status=line.raw_status[:40],
        claim_type=line.claim_type[:20],
        claim_status=line.claim_status[:40],
        delivery_issue=line.delivery_issue[:40],
        carrier_code=line.carrier_code[:20],
        carrier_name=line.carrier_name[:40],
        tracking_number=line.tracking_number[:40],
        ordered_at=line.ordered_at,
        paid_at=line.paid_at,
        shipped_at=line.shipped_at,
        delivered_at=line.delivered_at,
        expected_dispatch_date=line.expected_dispatch_date,
        last_movement_at=line.last_movement_at,
        product_ids=list(line.product_ids)[:20],
        product_name=line.product_name[:300],
        quantity=max(0, line.quantity),
        raw_payload=line.raw or {},
        synced_at=now,
    )
    if old is not None:
        if not line.claim_type and old.claim_type == CLAIM_RETURN and line.market_code == MarketCode.COUPANG:
            # Coupang order sheets do not show returns (a returned box is still FINAL_DELIVERY there):
            # the return request the claims stream recorded stays.
            row.status, row.claim_type, row.claim_status = old.status, old.claim_type, old.claim_status
        if not line.raw_status and old.raw_status:
            # A line known only from a claim: keep what the order sheet said about its shipment.
            for name in (
                "raw_status",
                "carrier_code",
                "carrier_name",
                "tracking_number",
                "ordered_at",
                "paid_at",
                "shipped_at",
                "delivered_at",
                "expected_dispatch_date",
                "product_name",
            ):
                if not getattr(row, name) and getattr(old, name):
                    setattr(row, name, getattr(old, name))
            if not row.product_ids:
                row.product_ids = old.product_ids
        moved = [t for t in (row.last_movement_at, old.last_movement_at) if t]
        if old.raw_status != row.raw_status or old.status != row.status:
            moved.append(now)  # it moved between two syncs; now is the latest it can have happened
        row.last_movement_at = max(moved) if moved else None
    elif row.last_movement_at is None:
        row.last_movement_at = row.shipped_at or row.paid_at or row.ordered_at
    row.fingerprint = _fingerprint(row)
    return row


def store_malformed(account: MarketAccount, bad: Malformed) -> None:
    payload = bad.payload if isinstance(bad.payload, str) else json.dumps(bad.payload, ensure_ascii=False, default=str)
    MalformedPayload.objects.create(
        account=account,
        kind=bad.kind,
        payload=payload.replace("\x00", "")[:200_000],
        error=bad.error.replace("\x00", "")[:2000],
    )
    log.warning("Malformed %s from %s recorded and skipped: %s", bad.kind, account.name, bad.error)


def _same(row: MarketOrder, old: MarketOrder) -> bool:
    return all(getattr(row, name) == getattr(old, name) for name in _WRITE_FIELDS if name != "synced_at")


def upsert_lines(
    account: MarketAccount, lines: Iterable[RemoteOrderLine], *, now: datetime | None = None
) -> tuple[int, int]:
    """Insert or update order lines (the last of a repeated line wins); returns (created, updated). A line
    that has not changed only has its ``synced_at`` moved (the overlapping windows see most lines again)."""
    now = now or timezone.now()
    latest: dict[str, RemoteOrderLine] = {}
    for line in lines:
        latest[line.line_id[:40]] = line
    created = updated = 0
    keys = list(latest)
    for start in range(0, len(keys), UPSERT_BATCH):
        chunk = keys[start : start + UPSERT_BATCH]
        with transaction.atomic():
            old = {o.line_id: o for o in MarketOrder.objects.filter(account=account, line_id__in=chunk)}
            changed, unchanged = [], []
            for key in chunk:
                row, stored = _merge(account, latest[key], old.get(key), now), old.get(key)
                if stored is not None and _same(row, stored):
                    unchanged.append(stored.pk)
                else:
                    changed.append(row)
            if changed and connection.vendor == "postgresql":
                copy_upsert(
                    MarketOrder, changed, unique_fields=["account", "line_id"], update_fields=list(_WRITE_FIELDS)
                )
            elif changed:
                MarketOrder.objects.bulk_create(
                    changed,
                    update_conflicts=True,
                    unique_fields=["account", "line_id"],
                    update_fields=list(_WRITE_FIELDS),
                )
            if unchanged:
                MarketOrder.objects.filter(pk__in=unchanged).update(synced_at=now)
        created += sum(1 for k in chunk if k not in old)
        updated += sum(1 for row in changed if row.line_id in old)
    return created, updated


def apply_claims(account: MarketAccount, claims: Iterable[RemoteClaim], *, now: datetime | None = None) -> int:
    """Record Coupang cancel/return requests on the boxes they name (every box of the order when they
    name none); boxes not seen yet get a line of their own. Returns the lines written."""
    from markets.clients.coupang_orders import claim_lines

    now = now or timezone.now()
    lines: list[RemoteOrderLine] = []
    for claim in claims:
        targets = claim.line_ids or list(
            MarketOrder.objects.filter(account=account, order_id=claim.order_id).values_list("line_id", flat=True)
        )
        stored = {o.line_id: o for o in MarketOrder.objects.filter(account=account, line_id__in=targets)}
        for line in claim_lines(RemoteClaim(**{**claim.__dict__, "line_ids": targets})):
            old = stored.get(line.line_id)
            if old is not None:  # the box as we know it, with the claim on top
                line = RemoteOrderLine(
                    **{
                        **{
                            f: getattr(old, f)
                            for f in (
                                "market_code",
                                "order_id",
                                "line_id",
                                "raw_status",
                                "delivery_issue",
                                "carrier_code",
                                "carrier_name",
                                "tracking_number",
                                "ordered_at",
                                "paid_at",
                                "shipped_at",
                                "delivered_at",
                                "expected_dispatch_date",
                                "last_movement_at",
                                "product_ids",
                                "product_name",
                                "quantity",
                            )
                        },
                        "raw": old.raw_payload,
                        "status": claim.status,
                        "claim_type": claim.claim_type,
                        "claim_status": claim.claim_status,
                    }
                )
            lines.append(line)
    created, updated = upsert_lines(account, lines, now=now)
    return created + updated
