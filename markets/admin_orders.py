"""The order mirror in the admin: what the marketplaces last said about each order line (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from markets.models import MarketOrder, OrderSyncCursor
from partialauto.admin_utils import ReadOnlyAdmin, pretty_json


@admin.register(MarketOrder)
class MarketOrderAdmin(ReadOnlyAdmin):
    list_display = [
        "order_id",
        "line_id",
        "account",
        "status",
        "raw_status",
        "claim_display",
        "carrier_name",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "expected_dispatch_date",
        "synced_at",
    ]
    list_filter = ["status", "market_code", "account", "carrier_name"]
    list_select_related = ["account"]
    search_fields = ["=order_id", "=line_id", "=tracking_number", "product_name"]
    show_full_result_count = False
    list_per_page = 50
    fieldsets = [
        (
            _("주문"),
            {"fields": ["account", "market_code", "order_id", "line_id", "product_name", "product_ids", "quantity"]},
        ),
        (
            _("상태"),
            {
                "fields": [
                    "status",
                    "raw_status",
                    "claim_type",
                    "claim_status",
                    "delivery_issue",
                    "expected_dispatch_date",
                    "last_movement_at",
                ]
            },
        ),
        (
            _("배송"),
            {
                "fields": [
                    "carrier_code",
                    "carrier_name",
                    "tracking_number",
                    "ordered_at",
                    "paid_at",
                    "shipped_at",
                    "delivered_at",
                ]
            },
        ),
        (_("동기화"), {"fields": ["synced_at", "created_at", "fingerprint"]}),
        (_("원본 (개인정보 제거)"), {"classes": ["collapse"], "fields": ["raw_payload_display"]}),
    ]

    @admin.display(description=_("클레임"))
    def claim_display(self, obj: MarketOrder) -> str:
        return f"{obj.claim_type}:{obj.claim_status}" if obj.claim_type else "-"

    @admin.display(description=_("원본 데이터"))
    def raw_payload_display(self, obj: MarketOrder) -> str:
        return pretty_json(obj.raw_payload)


@admin.register(OrderSyncCursor)
class OrderSyncCursorAdmin(ReadOnlyAdmin):
    list_display = ["account", "stream", "watermark", "last_synced_at", "last_success_at", "last_fetched", "last_error"]
    list_filter = ["stream", "account"]
    list_select_related = ["account"]
