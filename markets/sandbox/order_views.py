"""How each marketplace serves a sandbox order: Coupang order sheets (v4/v5), delivery history and
return requests; Naver change-log rows and product-order details (research/order-apis.md §1.4–§2.3).

Pure functions of the order state. What a line shows is derived from its times, never stored twice:
an invoice appears only once the line was dispatched, ``deliveredDate`` only once delivered. Personal
data (orderer/receiver names, safe numbers, addresses) is served as the marketplaces serve it —
masked names on Coupang, full ones on Naver — for clients to scrub.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markets.clients.types import KST, MARKET_COUPANG
from markets.sandbox.generator import naver_time
from markets.sandbox.orders import (
    CANCEL,
    CARRIERS,
    COLLECTED,
    DELIVERED,
    DONE,
    EXCHANGE,
    IN_TRANSIT,
    PAID,
    PREPARING,
    REDELIVERING,
    REQUESTED,
    RETURNED,
    SHIPPED,
    ChangeRow,
    Line,
    Order,
    SellerProfile,
    naver_claim_status,
    naver_status,
)

FREE_SHIPPING_OVER = 30_000  # KRW: orders at or above it ship free
SHIPPING_FEE = 3_000
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
REASON_TEXT = {
    "INTENT_CHANGED": "단순 변심",
    "WRONG_ORDER": "주문 실수",
    "PRODUCT_UNSATISFIED": "생각했던 것과 달라요",
    "DELAYED_DELIVERY": "배송이 너무 늦어요",
    "BROKEN": "받아보니 파손되어 있어요",
    "WRONG_DELIVERY": "주문한 상품과 다른 상품이 왔어요",
    "COLOR_AND_SIZE": "사이즈가 맞지 않아요",
}
SELLER_WAREHOUSE = {
    "addressType": "DOMESTIC",
    "name": "샌드박스몰 물류센터",
    "tel1": "031-8000-1234",
    "tel2": "",
    "baseAddress": "경기도 이천시 마장면 덕이로 150",
    "detailedAddress": "B동 2층",
    "zipCode": "17384",
    "city": "",
    "state": "",
    "country": "",
    "isRoadNameAddress": True,
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


def _goods_total(order: Order) -> int:
    return sum(item.unit_price * item.quantity - item.discount for line in order.lines for item in line.items)


def _fees(order: Order, line: Line) -> tuple[int, int]:
    """(shipping fee, remote-area fee) charged on this line: the order pays them once, on its first line."""
    if line is not order.lines[0]:
        return 0, 0
    return (0 if _goods_total(order) >= FREE_SHIPPING_OVER else SHIPPING_FEE), order.address.remote_fee


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
    shipping, remote = _fees(order, line)
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


def naver_change(row: ChangeRow) -> dict[str, Any]:
    return {
        "orderId": row.order_id,
        "productOrderId": row.line_id,
        "lastChangedType": row.change_type,
        "paymentDate": naver_time(row.paid_at) if row.paid_at else None,
        "lastChangedDate": naver_time(row.at),
        "productOrderStatus": row.status,
        "claimType": row.claim_type,
        "claimStatus": row.claim_status,
        "receiverAddressChanged": False,
        "giftReceivingStatus": None,
    }


def _nt(value: datetime | None) -> str | None:
    return naver_time(value) if value else None


def _naver_claim(order: Order, line: Line) -> dict[str, Any]:
    """The ``currentClaim`` block: ``{"cancel"|"return"|"exchange": {...}}``."""
    claim = line.claim
    assert claim is not None
    quantity = sum(item.quantity for item in line.items)
    block: dict[str, Any] = {
        "claimId": claim.claim_id,
        "claimStatus": naver_claim_status(claim),
        "claimRequestDate": naver_time(claim.requested_at),
        "requestChannel": "구매자",
        "requestQuantity": quantity,
    }
    refund = _nt(claim.completed_at + timedelta(days=2)) if claim.completed_at else None
    if claim.kind == CANCEL:
        block.update(
            cancelReason=claim.reason,
            cancelDetailedReason=REASON_TEXT[claim.reason],
            cancelApprovalDate=_nt(claim.completed_at),
            cancelCompletedDate=_nt(claim.completed_at),
            refundExpectedDate=refund,
        )
        return {"cancel": block}
    buyer = {
        "addressType": "DOMESTIC",
        "name": order.receiver.name,
        "tel1": order.receiver.phone,
        "tel2": "",
        "baseAddress": order.address.base,
        "detailedAddress": order.address.detail,
        "zipCode": order.address.zip_code,
        "city": "",
        "state": "",
        "country": "",
        "isRoadNameAddress": True,
    }
    block.update(
        collectStatus="COLLECT_DONE" if claim.state != REQUESTED else "COLLECTING",
        collectDeliveryMethod="RETURN_DESIGNATED",
        collectDeliveryCompany=claim.collect_carrier,
        collectTrackingNumber=claim.collect_invoice,
        collectCompletedDate=_nt(claim.collected_at),
        collectAddress=buyer,
        returnReceiveAddress=SELLER_WAREHOUSE,
    )
    if claim.kind == EXCHANGE:
        redelivering = claim.state in (REDELIVERING, DONE)
        block.update(
            exchangeReason=claim.reason,
            exchangeDetailedReason=REASON_TEXT[claim.reason],
            reDeliveryMethod="DELIVERY",
            reDeliveryStatus=("DELIVERY_COMPLETION" if claim.state == DONE else "DELIVERING" if redelivering else None),
            reDeliveryCompany=claim.redelivery_carrier or None,
            reDeliveryTrackingNumber=claim.redelivery_invoice or None,
            reDeliveryOperationDate=_nt(claim.redelivered_at),
            reDeliveryAddress=buyer,
        )
        return {"exchange": block}
    block.update(
        returnReason=claim.reason,
        returnDetailedReason=REASON_TEXT[claim.reason],
        returnCompletedDate=_nt(claim.completed_at),
        refundExpectedDate=refund,
    )
    return {"return": block}


def naver_product_order(order: Order, line: Line, profile: SellerProfile, *, quantity_claim: bool) -> dict[str, Any]:
    """One ``/product-orders/query`` element: order, productOrder, delivery (once dispatched), claims."""
    item = line.items[0]
    product = item.product
    shipping, remote = _fees(order, line)
    goods = item.unit_price * item.quantity - item.discount
    claim = line.claim
    total_paid = _goods_total(order) + sum(sum(_fees(order, each)) for each in order.lines)
    detail: dict[str, Any] = {
        "order": {
            "orderId": order.order_id,
            "orderDate": naver_time(order.ordered_at),
            "paymentDate": _nt(order.paid_at),
            "paymentDueDate": naver_time(order.ordered_at + timedelta(days=1)) if order.bank_transfer else None,
            "ordererId": order.buyer.member_id,
            "ordererNo": order.payment_id[-9:],
            "ordererName": order.buyer.name,
            "ordererTel": order.buyer.phone,
            "paymentMeans": order.payment_means,
            "payLocationType": order.channel,
            "generalPaymentAmount": total_paid,
            "naverMileagePaymentAmount": 0,
            "chargeAmountPaymentAmount": 0,
            "checkoutAccumulationPaymentAmount": 0,
            "payLaterPaymentAmount": 0,
            "orderDiscountAmount": 0,
            "isDeliveryMemoParticularInput": "false",
            "isMembershipSubscribed": False,
        },
        "productOrder": {
            "productOrderId": line.line_id,
            "productOrderStatus": naver_status(line),
            "placeOrderStatus": "OK" if line.placed_at else "NOT_YET",
            "placeOrderDate": _nt(line.placed_at),
            "claimType": claim.kind if claim else None,
            "claimStatus": naver_claim_status(claim),
            "claimId": claim.claim_id if claim else None,
            "decisionDate": _nt(line.decided_at),
            "productId": str(product.channel_product_no),
            "originalProductId": str(product.product_id + 2_000_000_000),
            "productName": product.name,
            "productOption": f"옵션: {product.option}",
            "optionCode": str(product.vendor_item_id),
            "sellerProductCode": f"SBX-{product.product_id}",
            "productClass": "단일상품",
            "quantity": item.quantity,
            "unitPrice": item.unit_price,
            "productDiscountAmount": item.discount,
            "totalProductAmount": item.unit_price * item.quantity,
            "totalPaymentAmount": goods + shipping + remote,
            "deliveryFeeAmount": shipping,
            "sectionDeliveryFee": remote,
            "shippingFeeType": "선불" if shipping else "무료",
            "deliveryPolicyType": "묶음배송",
            "packageNumber": line.package,
            "shippingDueDate": f"{line.promised.isoformat()}T23:59:59.000+09:00",
            "shippingStartDate": None,
            "delayedDispatchReason": None,
            "delayedDispatchDetailedReason": None,
            "expectedDeliveryMethod": "DELIVERY",
            "expectedDeliveryCompany": profile.carrier,
            "deliveryAttributeType": "TODAY" if int(line.line_id) % 7 == 0 else "NORMAL",
            "deliveryTagType": None,
            "arrivalGuaranteeDate": None,
            "shippingMemo": order.memo,
            "inflowPath": "네이버쇼핑",
            "shippingAddress": {
                "addressType": "DOMESTIC",
                "name": order.receiver.name,
                "tel1": order.receiver.phone,
                "tel2": "",
                "baseAddress": order.address.base,
                "detailedAddress": order.address.detail,
                "zipCode": order.address.zip_code,
                "city": "",
                "state": "",
                "country": "",
                "isRoadNameAddress": True,
                "pickupLocationType": "FRONT_OF_DOOR",
            },
            "takingAddress": SELLER_WAREHOUSE,
        },
    }
    if quantity_claim:
        detail["productOrder"].update(
            initialQuantity=item.quantity,
            remainQuantity=item.quantity - item.cancel_count,
            initialPaymentAmount=goods + shipping + remote,
            remainPaymentAmount=(goods + shipping + remote) if not item.cancel_count else 0,
        )
    if line.shipped_at is not None:
        # Claims come only after delivery, so any other stage here is a delivered parcel.
        delivery_status = {SHIPPED: "COLLECT_CARGO", IN_TRANSIT: "DELIVERING"}.get(line.stage, "DELIVERY_COMPLETION")
        detail["delivery"] = {
            "deliveryCompany": line.carrier,
            "trackingNumber": line.invoice,
            "deliveryMethod": "DELIVERY",
            "deliveryStatus": delivery_status,
            "sendDate": naver_time(line.shipped_at),
            "pickupDate": _nt(line.picked_up_at),
            "deliveredDate": _nt(line.delivered_at),
            "isWrongTrackingNumber": line.wrong_invoice,
            "wrongTrackingNumberType": "배송추적 결과 다른 주소로 배송완료된 송장" if line.wrong_invoice else None,
            "wrongTrackingNumberRegisteredDate": _nt(line.delivered_at) if line.wrong_invoice else None,
        }
    if claim is not None:
        detail["currentClaim"] = _naver_claim(order, line)
        if claim.state == DONE:
            detail["completedClaims"] = [
                {
                    "claimType": claim.kind,
                    "claimId": claim.claim_id,
                    "claimStatus": naver_claim_status(claim),
                    "claimRequestDate": naver_time(claim.requested_at),
                    "requestChannel": "구매자",
                    "claimRequestReason": claim.reason,
                    "requestQuantity": sum(i.quantity for i in line.items),
                }
            ]
    return detail


def order_view(order: Order) -> dict[str, Any]:
    """The internal view of an order for the control API and tests (``_scenario`` labels included)."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "market": order.market,
        "owner": order.owner,
        "order_id": order.order_id,
        "_scenario": order.scenario,
        "ordered_at": when(order.ordered_at),
        "paid_at": when(order.paid_at),
        "lines": [
            {
                "line_id": line.line_id,
                "_scenario": line.scenario,
                "stage": line.stage,
                "product_ids": [item.product.product_id for item in line.items],
                "market_product_ids": [
                    str(
                        item.product.vendor_item_id
                        if order.market == MARKET_COUPANG
                        else item.product.channel_product_no
                    )
                    for item in line.items
                ],
                "quantity": sum(item.quantity for item in line.items),
                "promised_date": line.promised.isoformat(),
                "carrier": line.carrier or None,
                "invoice": line.invoice or None,
                "placed_at": when(line.placed_at),
                "shipped_at": when(line.shipped_at),
                "picked_up_at": when(line.picked_up_at),
                "delivered_at": when(line.delivered_at),
                "decided_at": when(line.decided_at),
                "wrong_invoice": line.wrong_invoice,
                "claim": None
                if line.claim is None
                else {
                    "kind": line.claim.kind,
                    "id": line.claim.claim_id,
                    "state": line.claim.state,
                    "requested_at": when(line.claim.requested_at),
                    "completed_at": when(line.claim.completed_at),
                },
            }
            for line in order.lines
        ],
    }
