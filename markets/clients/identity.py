"""Who asked: the buyer identifiers each marketplace payload carries, as keyed hashes.

Follow-up detection (``inquiries.followups``) links a new inquiry to an earlier one of the same buyer.
It must never guess across buyers, so only identifiers that name one buyer count as a **buyer id**:

=====================  =============================================  ==========================
kind                   buyer id                                       writer hint (never a link)
=====================  =============================================  ==========================
COUPANG_ONLINE         none (``buyerEmail`` is masked and removed)    —
COUPANG_CALLCENTER     none (``buyerPhone`` is masked)                —
NAVER_QNA              none                                           ``maskedWriterId``
NAVER_INQUIRY          ``customerId`` (unless it arrives masked)      a masked ``customerId``
=====================  =============================================  ==========================

Orders are the other link (``order_refs``): Coupang online ``orderIds``, call-center ``orderId``,
Naver ``orderId`` / ``productOrderIdList``. A masked value (``abc****``) is many buyers at once: it is
kept only as a *writer hint* that can rule a link out (two different hints are two buyers), never in.

The raw values are personal data and are scrubbed from the stored payload; what is stored is an HMAC
under the project's secret key, enough to compare and useless to read back.
"""

from __future__ import annotations

from typing import Any

from django.utils.crypto import salted_hmac

from markets.clients.types import NAVER_INQUIRY, NAVER_QNA

_SALT = "partialauto.buyer-identity"
_MASK_CHARS = ("*", "●", "○")


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value).strip()[:200]


def is_masked(value: str) -> bool:
    return any(ch in value for ch in _MASK_CHARS)


def hashed(market_code_or_kind: str, value: str) -> str:
    """A stable keyed hash of one identifier (32 hex characters); "" for no identifier."""
    if not value:
        return ""
    return salted_hmac(_SALT, f"{market_code_or_kind}:{value}").hexdigest()[:32]


def buyer_keys(kind: str, raw: Any) -> dict[str, str]:
    """``{"buyer_key", "writer_key"}`` of one marketplace item (``raw`` as received, before scrubbing)."""
    raw = raw if isinstance(raw, dict) else {}
    buyer = writer = ""
    if kind == NAVER_INQUIRY:
        customer = _text(raw.get("customerId"))
        if customer and is_masked(customer):
            writer = customer
        else:
            buyer = customer
    elif kind == NAVER_QNA:
        writer = _text(raw.get("maskedWriterId"))
    # Naver's two kinds share one store's buyers; the hash is per market, so a Q&A hint and an
    # inquiry's masked id compare.
    return {"buyer_key": hashed("SMARTSTORE", buyer), "writer_key": hashed("SMARTSTORE", writer)}
