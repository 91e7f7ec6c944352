from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries.models import Inquiry, InquiryEvent, Intent, KnowledgeEntry, SendAttempt
from partialauto.admin_utils import ReadOnlyAdmin, gates_table, pretty_json


class InquiryEventInline(admin.TabularInline):
    model = InquiryEvent
    extra = 0
    can_delete = False
    fields = ["at", "type", "actor_label", "from_status", "to_status", "from_send_status", "to_send_status", "message"]
    readonly_fields = fields
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def mask_name(value: str) -> str:
    """Buyer names are shown masked: first character and stars."""
    if not value:
        return ""
    return value[0] + "*" * max(len(value) - 1, 1)


@admin.register(Inquiry)
class InquiryAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "kind", "short_content", "intent", "confidence_score", "status", "send_status",
                    "send_attempts", "decision_mode", "created_at"]
    list_filter = ["status", "send_status", "decision_mode", "market_code", "kind", "intent", "is_test_mode", "account"]
    list_select_related = ["account"]
    search_fields = ["=external_id", "=order_id", "content", "title"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    list_per_page = 50
    inlines = [InquiryEventInline]
    fieldsets = [
        (_("문의"), {"fields": ["account", "market_code", "kind", "external_id", "created_at", "title", "content",
                                "product_name", "product_id", "order_id", "buyer_name"]}),
        (_("판정"), {"fields": ["status", "intent", "confidence_score", "decision_mode", "decision_reason", "risk_hits_display",
                              "gates_display", "draft_answer", "final_answer", "decided_at"]}),
        (_("전송"), {"fields": ["send_status", "send_attempts", "last_send_error", "is_test_mode", "next_attempt_at",
                              "sent_at", "remote_ref", "lease_expires_at"]}),
        (_("검토"), {"fields": ["reviewed_by", "reviewed_at", "human_edited", "review_note"]}),
        (_("원본"), {"classes": ["collapse"], "fields": ["decision_trace_display", "raw_payload_display"]}),
    ]
    readonly_fields = [
        "account", "market_code", "kind", "external_id", "created_at", "title", "content", "product_name", "product_id",
        "order_id", "buyer_name", "status", "intent", "confidence_score", "decision_mode", "decision_reason",
        "risk_hits_display", "gates_display", "draft_answer", "final_answer", "decided_at", "send_status",
        "send_attempts", "last_send_error", "is_test_mode", "next_attempt_at", "sent_at", "remote_ref",
        "lease_expires_at", "reviewed_by", "reviewed_at", "human_edited", "review_note", "decision_trace_display",
        "raw_payload_display",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # The list never needs the raw payload or the trace: keep those big columns out of it.
        return super().get_queryset(request).defer("raw_payload", "decision_trace")

    @admin.display(description=_("내용"))
    def short_content(self, obj: Inquiry) -> str:
        return (obj.content[:40] + "…") if len(obj.content) > 40 else obj.content

    @admin.display(description=_("고객명"))
    def buyer_name(self, obj: Inquiry) -> str:
        return mask_name(obj.buyer_name_masked)

    @admin.display(description=_("위험 키워드"))
    def risk_hits_display(self, obj: Inquiry) -> str:
        if not obj.risk_hits:
            return "-"
        return format_html_join(", ", "{} ({}: {})", ((h.get("term"), h.get("category"), h.get("where", "")) for h in obj.risk_hits))

    @admin.display(description=_("게이트 판정"))
    def gates_display(self, obj: Inquiry) -> str:
        return gates_table(obj.decision_trace.get("policy") if obj.decision_trace else {})

    @admin.display(description=_("판정 기록 전체"))
    def decision_trace_display(self, obj: Inquiry) -> str:
        return pretty_json(obj.decision_trace)

    @admin.display(description=_("원본 데이터"))
    def raw_payload_display(self, obj: Inquiry) -> str:
        return pretty_json(obj.raw_payload)


@admin.register(Intent)
class IntentAdmin(SimpleHistoryAdmin):
    list_display = ["name", "description", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]
    search_fields = ["name", "description"]


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(SimpleHistoryAdmin):
    list_display = ["title", "intent", "account", "product_id", "priority", "is_active", "updated_at"]
    list_filter = ["intent", "is_active", "account"]
    list_select_related = ["intent", "account"]
    search_fields = ["title", "body"]


@admin.register(SendAttempt)
class SendAttemptAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "inquiry_id", "account", "attempt_no", "outcome", "http_status", "is_test_mode", "error"]
    list_filter = ["outcome", "is_test_mode", "market_code", "account"]
    list_select_related = ["account"]
    date_hierarchy = "started_at"
    show_full_result_count = False
