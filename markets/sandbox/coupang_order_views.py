"""How Coupang serves a sandbox order: order sheets (v4/v5), a box's delivery history and return
requests (research/order-apis.md §1.4–§1.7). Names are served masked, as Coupang does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markets.clients.types import KST
from markets.sandbox.order_views import REASON_TEXT, fees
from markets.sandbox.orders import (
    CANCEL,
    CARRIERS,
    COLLECTED,
    DELIVERED,
    DONE,
    IN_TRANSIT,
    PAID,
    PREPARING,
    RETURNED,
    SHIPPED,
    Line,
    Order,
    SellerProfile,
)

COUPANG_STATUS_DESC = {
    "ACCEPT": "결제완료",
    "INSTRUCT": "상품준비중",
    "DEPARTURE": "배송지시",
    "DELIVERING": "배송중",
    "FINAL_DELIVERY": "배송완료",
    "NONE_TRACKING": "업체 직접 배송",
}
# Naver claim reason code → Coupang's two reason categories and who is at fault.
COUPANG_REASONS: dict[str, tuple[str, str, str]] = {
    "INTENT_CHANGED": ("고객변심", "단순변심(사유없음)", "CUSTOMER"),
    "WRONG_ORDER": ("고객변심", "주문실수", "CUSTOMER"),
    "PRODUCT_UNSATISFIED": ("고객변심", "상품 불만족", "CUSTOMER"),
    "DELAYED_DELIVERY": ("배송불만", "배송지연", "VENDOR"),
    "BROKEN": ("상품불량", "상품 파손/불량", "VENDOR"),
    "WRONG_DELIVERY": ("오배송", "다른 상품 배송", "VENDOR"),
    "COLOR_AND_SIZE": ("고객변심", "색상/사이즈 변경", "CUSTOMER"),
}


def masked(name: str) -> str:
    """Coupang's masking: ``김민영`` → ``김*영``."""
    return name[0] + "*" + name[-1] if len(name) > 2 else name[0] + "*"


def _coupang_time(value: datetime | None, v5: bool, *, spaced: bool = False) -> str:
    """v5: ISO-8601 with offset and µs; v4: naive KST ``yyyy-MM-dd'T'HH:mm:ss`` (``spaced``: with a space)."""
    if value is None:
        return ""
    local = value.astimezone(KST)
    if v5:
        return local.isoformat(timespec="microseconds")
    return local.strftime("%Y-%m-%d %H:%M:%S" if spaced else "%Y-%m-%dT%H:%M:%S")


def _money(value: int | None, v5: bool) -> Any:
    if value is None:
        return None
    return {"currencyCode": "KRW", "units": value, "nanos": 0} if v5 else value


def coupang_status(line: Line) -> str:
    """A box's order sheet status; a cancelled box keeps the status it had when it was cancelled."""
    stage = line.claim.stage_at_request if line.claim and line.claim.kind == CANCEL else line.stage
    if stage in (SHIPPED, IN_TRANSIT) and line.carrier == "DIRECT":
        return "NONE_TRACKING"
    return {
        PAID: "ACCEPT",
        PREPARING: "INSTRUCT",
        SHIPPED: "DEPARTURE",
        IN_TRANSIT: "DELIVERING",
        DELIVERED: "FINAL_DELIVERY",
        RETURNED: "FINAL_DELIVERY",
    }[stage]


def coupang_ordersheet(order: Order, line: Line, profile: SellerProfile, *, v5: bool) -> dict[str, Any]:
    shipping, remote = fees(order, line)
    split = len(order.lines) > 1
    shipped = line.shipped_at is not None
    items = []
    for item in line.items:
        product = item.product
        entry: dict[str, Any] = {
            "vendorItemPackageId": 0,
            "vendorItemPackageName": product.name,
            "productId": product.product_id,
            "vendorItemId": product.vendor_item_id,
            "vendorItemName": f"{product.name}, {product.option}",
            "shippingCount": item.quantity,
            "salesPrice": _money(item.unit_price, v5),
            "orderPrice": _money(item.unit_price * item.quantity, v5),
            "discountPrice": _money(item.discount, v5) if v5 or item.discount else None,
            "externalVendorSkuCode": "",
            "etcInfoHeader": None,
            "etcInfoValue": None,
            "etcInfoValues": None,
            "sellerProductId": product.seller_product_id,
            "sellerProductName": product.name,
            "sellerProductItemName": product.option,
            "firstSellerProductItemName": product.option,
            "cancelCount": item.cancel_count,
            "holdCountForCancel": item.hold_count,
            "estimatedShippingDate": line.promised.isoformat(),
            "plannedShippingDate": line.planned.isoformat() if line.planned else "",
            "invoiceNumberUploadDate": _coupang_time(line.shipped_at, v5),
            "extraProperties": {},
            "pricingBadge": False,
            "usedProduct": False,
            "confirmDate": _coupang_time(line.decided_at, v5, spaced=True),
            "deliveryChargeTypeName": "유료" if shipping else "무료",
            "canceled": item.cancel_count >= item.quantity,
        }
        if v5:
            entry.update(
                instantCouponDiscount=_money(item.discount, v5),
                downloadableCouponDiscount=_money(0, v5),
                coupangDiscount=_money(0, v5),
                upBundleVendorItemId=None,
                upBundleVendorItemName=None,
                upBundleSize=None,
                upBundleItem=False,
            )
        items.append(entry)
    sheet: dict[str, Any] = {
        "shipmentBoxId": int(line.line_id),
        "orderId": int(order.order_id),
        "orderedAt": _coupang_time(order.ordered_at, v5),
        "paidAt": _coupang_time(order.paid_at, v5),
        "orderer": {
            "name": masked(order.buyer.name),
            "email": "",
            "safeNumber": order.buyer.safe_number,
            "ordererNumber": None,
        },
        "status": coupang_status(line),
        "shippingPrice": _money(shipping, v5),
        "remotePrice": _money(remote or None, v5),
        "remoteArea": bool(remote),
        "parcelPrintMessage": order.memo,
        "splitShipping": split,
        "ableSplitShipping": split,
        "receiver": {
            "name": masked(order.receiver.name),
            "safeNumber": order.receiver.safe_number,
            "receiverNumber": None,
            "addr1": order.address.base,
            "addr2": order.address.detail,
            "postCode": order.address.zip_code,
        },
        "orderItems": items,
        "overseaShippingInfoDto": {"personalCustomsClearanceCode": "", "ordererSsn": "", "ordererPhoneNumber": ""},
        "deliveryCompanyName": CARRIERS[line.carrier][0] if shipped else "",
        "invoiceNumber": line.invoice if shipped else "",
        "inTrasitDateTime": _coupang_time(line.shipped_at, v5, spaced=True),
        "deliveredDate": _coupang_time(line.delivered_at, v5, spaced=True),
        "refer": order.channel,
    }
    if v5:
        paid = (order.paid_at or order.ordered_at).astimezone(KST)
        same_day = line.items[0].product.lead_days == 1 and paid.weekday() < 5 and paid.hour < profile.cutoff_hour
        sheet.update(
            shipmentType="THIRD_PARTY",
            isCod=False,
            extraProperties={
                "sameDayShipping": "true" if same_day else "false",
                "cutOffTimeHour": str(profile.cutoff_hour) if same_day else "0",
            },
        )
    return sheet


def coupang_history(order: Order, line: Line, *, v5: bool) -> dict[str, Any]:
    """The box's delivery status history, newest first (the bare shape of the documented example)."""
    untracked = line.carrier == "DIRECT"
    points = [
        ("ACCEPT", order.paid_at),
        ("INSTRUCT", line.placed_at),
        ("DEPARTURE" if not untracked else "NONE_TRACKING", line.shipped_at),
        ("DELIVERING", None if untracked else line.picked_up_at),
        ("FINAL_DELIVERY", line.delivered_at),
    ]
    return {
        "shipmentBoxId": int(line.line_id),
        "details": [
            {
                "deliveryStatus": status,
                "deliveryStatusDesc": COUPANG_STATUS_DESC[status],
                "updatedAt": _coupang_time(at, v5),
            }
            for status, at in reversed(points)
            if at is not None
        ],
    }


def coupang_receipt(order: Order, line: Line) -> dict[str, Any]:
    """One returnRequests element: a cancellation at 결제완료 is a CANCEL, anything later a RETURN."""
    claim = line.claim
    assert claim is not None
    before_instruct = claim.kind == CANCEL and claim.stage_at_request == PAID
    if claim.state == DONE:
        status = "RETURNS_COMPLETED"
    elif claim.kind == CANCEL:
        status = "RELEASE_STOP_UNCHECKED"  # 출고중지요청: the seller must stop the parcel
    elif claim.state == COLLECTED:
        status = "REQUEST_COUPANG_CHECK" if claim.coupang_check else "VENDOR_WAREHOUSE_CONFIRM"
    else:
        status = "RETURNS_UNCHECKED"
    if claim.kind != CANCEL or before_instruct:
        release_stop = "비대상"
    else:
        release_stop = "처리(출고중지)" if claim.state == DONE else "미처리"
    category1, category2, fault = COUPANG_REASONS[claim.reason]
    naive = "%Y-%m-%dT%H:%M:%S"
    return {
        "receiptId": int(claim.claim_id),
        "orderId": int(order.order_id),
        "paymentId": int(order.payment_id),
        "receiptType": "CANCEL" if before_instruct else "RETURN",
        "receiptStatus": status,
        "createdAt": claim.requested_at.astimezone(KST).strftime(naive),
        "modifiedAt": claim.last_at().astimezone(KST).strftime(naive),
        "requesterName": order.buyer.name,
        "requesterPhoneNumber": order.buyer.phone[:4] + "****" + order.buyer.phone[-5:],
        "requesterAddress": order.address.base,
        "requesterAddressDetail": order.address.detail,
        "requesterZipCode": order.address.zip_code,
        "cancelReasonCategory1": category1,
        "cancelReasonCategory2": category2,
        "cancelReason": REASON_TEXT[claim.reason],
        "cancelCountSum": sum(item.quantity for item in line.items),
        "returnDeliveryType": "" if claim.kind == CANCEL else "연동택배",
        "releaseStopStatus": release_stop,
        "enclosePrice": 0,
        "faultByType": fault,
        "preRefund": False,
        "completeConfirmType": "파트너 확인" if claim.state == DONE else "미확인",
        "completeConfirmDate": claim.completed_at.astimezone(KST).strftime(naive) if claim.completed_at else "",
        "returnItems": [
            {
                "vendorItemPackageId": 0,
                "vendorItemPackageName": item.product.name,
                "vendorItemId": item.product.vendor_item_id,
                "vendorItemName": f"{item.product.name}, {item.product.option}",
                "purchaseCount": item.quantity,
                "cancelCount": item.quantity,
                "shipmentBoxId": int(line.line_id),
                "sellerProductId": item.product.seller_product_id,
                "sellerProductName": item.product.name,
            }
            for item in line.items
        ],
        "returnDeliveryDtos": (
            [{"deliveryCompanyCode": claim.collect_carrier, "deliveryInvoiceNo": claim.collect_invoice}]
            if claim.collect_invoice
            else []
        ),
    }
