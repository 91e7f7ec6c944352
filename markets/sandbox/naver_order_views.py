"""How Naver serves a sandbox order: change-log rows and product-order details with their claims
(research/order-apis.md §2.1–§2.3). Names are served in full, as Naver does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markets.sandbox.generator import naver_time
from markets.sandbox.order_views import REASON_TEXT, fees, goods_total
from markets.sandbox.orders import (
    CANCEL,
    DONE,
    EXCHANGE,
    IN_TRANSIT,
    REDELIVERING,
    REQUESTED,
    SHIPPED,
    ChangeRow,
    Line,
    Order,
    SellerProfile,
    naver_claim_status,
    naver_status,
)

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


def _buyer_address(order: Order) -> dict[str, Any]:
    """The buyer's address as Naver's order and claim details show it."""
    return {
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
    buyer = _buyer_address(order)
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
    shipping, remote = fees(order, line)
    goods = item.unit_price * item.quantity - item.discount
    claim = line.claim
    total_paid = goods_total(order) + sum(sum(fees(order, each)) for each in order.lines)
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
            "shippingAddress": {**_buyer_address(order), "pickupLocationType": "FRONT_OF_DOOR"},
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
