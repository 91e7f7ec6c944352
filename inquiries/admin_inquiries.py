"""The inquiry pages in the admin: every inquiry with its decision, send and event trail, the send
attempts, and the follow-ups that link a buyer's new inquiry to an answered one. Registered when
``inquiries.admin`` loads."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from inquiries.agent.labels import risk_term_label
from inquiries.models import FollowUp, Inquiry, InquiryEvent, Intent, SendAttempt
from markets.clients.parsing import mask_name
from partialauto.admin_utils import (
    LargeTablePaginator,
    NoAddNoDelete,
    ReadOnly,
    ReadOnlyAdmin,
    facts_table,
    gates_table,
    pretty_json,
)


class ConfiguredIntentFilter(admin.AllValuesFieldListFilter):
    """The intent filter, with its choices from the intent table (a handful of rows) instead of a
    ``SELECT DISTINCT intent`` over every inquiry. Same parameter (``intent__exact``) as before."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = list(Intent.objects.order_by("sort_order", "name").values_list("name", flat=True))


class InquiryEventInline(ReadOnly, admin.TabularInline):
    model = InquiryEvent
    extra = 0
    can_delete = False
    readonly_fields = [
        "at",
        "type",
        "actor_label",
        "from_status",
        "to_status",
        "from_send_status",
        "to_send_status",
        "message",
    ]
    fields = tuple(readonly_fields)
    ordering = ["at", "id"]


# What the marketplace said: shown in the first section and never edited.
INQUIRY_FIELDS = (
    "account",
    "market_code",
    "kind",
    "external_id",
    "created_at",
    "title",
    "content",
    "product_name",
    "product_id",
    "order_id",
    "order_refs",
    "product_refs",
    "buyer_name",
)


@admin.register(Inquiry)
class InquiryAdmin(NoAddNoDelete, admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "kind",
        "short_content",
        "intent",
        "confidence_score",
        "status",
        "send_status",
        "send_attempts",
        "decision_mode",
        "created_at",
    ]
    # No date_hierarchy: it lists the months with a SELECT DISTINCT over every row (0.6 s at 1 M rows);
    # the date filter offers today / 7 days / this month / this year without touching the table.
    list_filter = [
        "status",
        "send_status",
        "decision_mode",
        "market_code",
        "kind",
        ("intent", ConfiguredIntentFilter),
        "is_test_mode",
        "account",
        ("created_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["account"]
    search_fields = ["=external_id", "=order_id", "content", "title"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    paginator = LargeTablePaginator  # nor for the page count
    list_per_page = 50
    inlines = [InquiryEventInline]
    fieldsets = [
        (
            _("문의"),
            {"fields": list(INQUIRY_FIELDS)},
        ),
        (
            _("판정"),
            {
                "fields": [
                    "status",
                    "intent",
                    "confidence_score",
                    "decision_mode",
                    "decision_reason",
                    "risk_hits_display",
                    "gates_display",
                    "facts_display",
                    "draft_answer",
                    "final_answer",
                    "decided_at",
                ]
            },
        ),
        (
            _("전송"),
            {
                "fields": [
                    "send_status",
                    "send_attempts",
                    "last_send_error",
                    "is_test_mode",
                    "next_attempt_at",
                    "sent_at",
                    "first_answered_at",
                    "remote_ref",
                    "lease_expires_at",
                ]
            },
        ),
        (_("검토"), {"fields": ["reviewed_by", "reviewed_at", "human_edited", "review_note"]}),
        (_("원본"), {"classes": ["collapse"], "fields": ["decision_trace_display", "raw_payload_display"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)  # every field shown; none is edited here

    def get_queryset(self, request):
        # The list never needs the raw payload or the trace: keep those big columns out of it.
        return super().get_queryset(request).defer("raw_payload", "decision_trace")

    @admin.display(description=_("내용"))
    def short_content(self, obj: Inquiry) -> str:
        return (obj.content[:40] + "…") if len(obj.content) > 40 else obj.content

    @admin.display(description=_("고객명"))
    def buyer_name(self, obj: Inquiry) -> str:
        return mask_name(obj.buyer_name_masked) or ""

    @admin.display(description=_("위험 키워드"))
    def risk_hits_display(self, obj: Inquiry) -> str:
        if not obj.risk_hits:
            return "-"
        return format_html_join(
            ", ",
            "{} ({}: {})",
            ((risk_term_label(h.get("term")), h.get("category"), h.get("where", "")) for h in obj.risk_hits),
        )

    @admin.display(description=_("게이트 판정"))
    def gates_display(self, obj: Inquiry) -> str:
        return gates_table(obj.decision_trace.get("policy") if obj.decision_trace else {})

    @admin.display(description=_("초안의 근거 사실"))
    def facts_display(self, obj: Inquiry) -> str:
        return facts_table(((obj.decision_trace or {}).get("agent") or {}).get("facts"))

    @admin.display(description=_("판정 기록 전체"))
    def decision_trace_display(self, obj: Inquiry) -> str:
        return pretty_json(obj.decision_trace)

    @admin.display(description=_("원본 데이터"))
    def raw_payload_display(self, obj: Inquiry) -> str:
        return pretty_json(obj.raw_payload)


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    """Buyers who wrote again after an answer (inquiries.followups): the figures of ``kpi``, the dashboard,
    readiness and the complaint rule are counts of these rows."""

    list_display = ["asked_at", "account", "intent", "path", "kind", "linked_by", "earlier_number", "inquiry_number"]
    list_filter = ["kind", "path", "linked_by", "account", "intent"]
    list_select_related = ["account"]
    date_hierarchy = "asked_at"
    readonly_fields = [
        "inquiry",
        "earlier",
        "account",
        "kind",
        "linked_by",
        "path",
        "intent",
        "answered_at",
        "asked_at",
        "similarity",
        "evidence",
        "created_at",
    ]
    fields = tuple(readonly_fields)
    raw_id_fields = ["inquiry", "earlier"]

    @admin.display(description=_("먼저 답한 문의"), ordering="earlier_id")
    def earlier_number(self, obj: FollowUp) -> int:
        return obj.earlier_id

    @admin.display(description=_("재문의"), ordering="inquiry_id")
    def inquiry_number(self, obj: FollowUp) -> int:
        return obj.inquiry_id


@admin.register(SendAttempt)
class SendAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "inquiry_number",
        "account",
        "attempt_no",
        "outcome",
        "http_status",
        "is_test_mode",
        "error",
    ]
    list_filter = ["outcome", "is_test_mode", "market_code", "account", ("started_at", admin.DateFieldListFilter)]
    list_select_related = ["account"]
    show_full_result_count = False
    paginator = LargeTablePaginator

    @admin.display(description=_("문의 번호"), ordering="inquiry_id")
    def inquiry_number(self, obj: SendAttempt) -> int:
        return obj.inquiry_id
