"""Order lines as the CS answers need them, in one shape for both marketplaces (research/order-apis.md).

Pure Python like the rest of ``markets.clients``. The market modules (``coupang_orders.py``,
``naver_orders.py``) parse their payloads into :class:`RemoteOrderLine` / :class:`RemoteClaim` (or
:class:`~markets.clients.types.Malformed`); ``markets.orders`` stores them in ``market_order``.

Normalized statuses: ``PAID`` (결제완료, not acknowledged), ``PREPARING`` (상품준비중), ``SHIPPED`` (handed to
the carrier; may not be scanned yet), ``IN_TRANSIT`` (배송중), ``DELIVERED`` (배송완료, incl. purchase
decided), ``CANCELLED``, ``RETURNED``, ``EXCHANGED``. The marketplace's own value is kept beside it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

PAID = "PAID"
PREPARING = "PREPARING"
SHIPPED = "SHIPPED"
IN_TRANSIT = "IN_TRANSIT"
DELIVERED = "DELIVERED"
CANCELLED = "CANCELLED"
RETURNED = "RETURNED"
EXCHANGED = "EXCHANGED"
ORDER_STATUSES = (PAID, PREPARING, SHIPPED, IN_TRANSIT, DELIVERED, CANCELLED, RETURNED, EXCHANGED)

# Malformed payload kinds of the order feeds (markets.models.PayloadKind).
COUPANG_ORDER = "COUPANG_ORDER"
COUPANG_RETURN = "COUPANG_RETURN"
NAVER_ORDER = "NAVER_ORDER"

# Claims (cancel / return / exchange) that ask for a person: anything requested, in progress or done.
CLAIM_CANCEL = "CANCEL"
CLAIM_RETURN = "RETURN"
CLAIM_EXCHANGE = "EXCHANGE"

# Delivery problems the marketplace itself reports.
ISSUE_WRONG_TRACKING = "WRONG_TRACKING"
ISSUE_NOT_TRACKABLE = "NOT_TRACKABLE"

# Carrier codes shared by both marketplaces (§1.8, §2.5) → the Korean name an answer uses.
CARRIER_NAMES: dict[str, str] = {
    "CJGLS": "CJ대한통운",
    "HANJIN": "한진택배",
    "HYUNDAI": "롯데택배",
    "KGB": "로젠택배",
    "EPOST": "우체국택배",
    "KDEXP": "경동택배",
    "ILYANG": "일양로지스",
    "DAESIN": "대신택배",
    "HDEXP": "합동택배",
    "CHUNIL": "천일택배",
    "CVSNET": "GS Postbox 택배",
    "CVS": "CVS택배",
    "CUPARCEL": "CU 편의점택배",
    "KUNYOUNG": "건영택배",
    "REGISTPOST": "우편등기",
    "GENERALPOST": "일반우편",
    "COUPANG": "쿠팡 자체배송",
    "DIRECT": "업체 직접 배송",
}
# Coupang orders name the carrier instead of coding it ("CJ 대한통운", sic); spaces are ignored.
_CARRIER_BY_NAME = {
    **{name.replace(" ", ""): code for code, name in CARRIER_NAMES.items()},
    "CJ대한통운": "CJGLS",
    "대한통운": "CJGLS",
    "우체국": "EPOST",
    "로젠": "KGB",
    "롯데": "HYUNDAI",
    "현대택배": "HYUNDAI",
    "한진": "HANJIN",
    "일양택배": "ILYANG",
    "천일특송": "CHUNIL",
    "업체직송": "DIRECT",
}

# Keys of an order payload that carry the buyer's personal data. They are dropped from what we store:
# an order's facts never need them, and an answer must never contain them.
PERSONAL_ORDER_KEYS = frozenset(
    {
        "orderer",
        "receiver",
        "overseaShippingInfoDto",
        "ordererName",
        "ordererTel",
        "ordererId",
        "ordererNo",
        "shippingAddress",
        "takingAddress",
        "shippingMemo",
        "parcelPrintMessage",
        "safeNumber",
        "receiverNumber",
        "name",
        "tel1",
        "tel2",
        "baseAddress",
        "detailedAddress",
        "zipCode",
        "addr1",
        "addr2",
        "postCode",
        "email",
        "giftReceiverName",
        "giftReceiverTel",
        "personalCustomsClearanceCode",
        "ordererSsn",
        "requesterName",
        "requesterPhoneNumber",
        "requesterRealPhoneNumber",
        "requesterAddress",
        "requesterAddressDetail",
        "requesterZipCode",
        "collectAddress",
        "reDeliveryAddress",
        "returnReceiveAddress",
    }
)


def carrier_code_for(name: str | None) -> str:
    """The carrier code for a Coupang display name (``""`` when unknown)."""
    return _CARRIER_BY_NAME.get((name or "").replace(" ", ""), "")


def carrier_name_for(code: str | None, fallback: str | None = None) -> str:
    """The Korean carrier name for a code; the marketplace's own name when the code is unknown."""
    return CARRIER_NAMES.get(code or "", "") or (fallback or "").strip()


def scrub_order(value: Any) -> Any:
    """The payload without personal data (dropped, not masked) and without NUL characters."""
    if isinstance(value, dict):
        return {k: scrub_order(v) for k, v in value.items() if k not in PERSONAL_ORDER_KEYS}
    if isinstance(value, list):
        return [scrub_order(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


@dataclass
class RemoteOrderLine:
    """One order line as the marketplace describes it now (a Coupang shipment box, a Naver product order)."""

    market_code: str
    order_id: str
    line_id: str
    status: str  # one of ORDER_STATUSES
    raw_status: str
    claim_type: str = ""
    claim_status: str = ""
    delivery_issue: str = ""
    carrier_code: str = ""
    carrier_name: str = ""
    tracking_number: str = ""
    ordered_at: datetime | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    expected_dispatch_date: date | None = None
    last_movement_at: datetime | None = None
    product_ids: list[str] = field(default_factory=list)
    product_name: str = ""
    quantity: int = 1
    raw: dict[str, Any] = field(default_factory=dict)  # scrubbed (scrub_order)

    def fingerprint(self) -> str:
        return order_fingerprint(
            self.status,
            self.raw_status,
            self.claim_type,
            self.claim_status,
            self.delivery_issue,
            self.carrier_code,
            self.tracking_number,
            self.delivered_at,
            self.expected_dispatch_date,
        )


def order_fingerprint(*values: Any) -> str:
    """A short digest of the facts an answer may state about an order line; equal digests mean the
    answer drafted from the line is still true."""
    text = "|".join("" if v is None else (v.isoformat() if isinstance(v, (date, datetime)) else str(v)) for v in values)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class RemoteClaim:
    """A cancel or return request of Coupang's returnRequests list: which boxes of which order it touches."""

    order_id: str
    receipt_id: str
    claim_type: str  # CANCEL | RETURN
    claim_status: str  # receiptStatus
    created_at: datetime | None
    line_ids: list[str]  # shipmentBoxIds (may be empty: then every box of the order)
    product_ids: list[str]
    product_names: list[str]
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return RETURNED if self.claim_type == CLAIM_RETURN else CANCELLED


class OrderNotFound(Exception):
    """The marketplace knows no such order (or does not say)."""
