from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries import review
from inquiries.calibration import AGREE_AT, MIN_SAMPLE
from inquiries.models import Inquiry, InquiryEvent, Intent, KnowledgeEntry, ReviewItem, SendAttempt
from inquiries.review import REVIEW_PERMISSION
from partialauto.admin_utils import ConfiguredIntentFilter, LargeTablePaginator, ReadOnlyAdmin, gates_table, pretty_json


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
    # No date_hierarchy: it lists the months with a SELECT DISTINCT over every row (0.6 s at 1 M rows);
    # the date filter offers today / 7 days / this month / this year without touching the table.
    list_filter = ["status", "send_status", "decision_mode", "market_code", "kind", ("intent", ConfiguredIntentFilter),
                   "is_test_mode", "account", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["account"]
    search_fields = ["=external_id", "=order_id", "content", "title"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    paginator = LargeTablePaginator  # nor for the page count
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
    list_display = ["name", "description", "agreement", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]
    search_fields = ["name", "description"]

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=90)
        compared = Inquiry.objects.filter(intent=OuterRef("name"), created_at__gte=since, draft_agreement__isnull=False)
        return super().get_queryset(request).annotate(
            compared=Subquery(compared.values("intent").annotate(n=Count("id")).values("n")[:1]),
            agreed=Subquery(compared.filter(draft_agreement__gte=AGREE_AT).values("intent").annotate(n=Count("id"))
                            .values("n")[:1]),
        )

    @admin.display(description=_("초안 일치율 (90일)"))
    def agreement(self, obj: Intent) -> str:
        compared = getattr(obj, "compared", None) or 0
        if not compared:
            return "-"
        agreed = getattr(obj, "agreed", None) or 0
        note = "" if compared >= MIN_SAMPLE else str(_(" (표본 부족)"))
        return f"{agreed / compared * 100:.0f}% ({agreed}/{compared}){note}"


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(SimpleHistoryAdmin):
    list_display = ["title", "intent", "account", "product_id", "priority", "is_active", "updated_at"]
    list_filter = ["intent", "is_active", "account"]
    list_select_related = ["intent", "account"]
    search_fields = ["title", "body"]


@admin.register(SendAttempt)
class SendAttemptAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "inquiry_id", "account", "attempt_no", "outcome", "http_status", "is_test_mode", "error"]
    list_filter = ["outcome", "is_test_mode", "market_code", "account", ("started_at", admin.DateFieldListFilter)]
    list_select_related = ["account"]
    show_full_result_count = False
    paginator = LargeTablePaginator


class ReviewForm(forms.ModelForm):
    """The answer box starts with the AI draft; the person edits it and approves, or closes."""

    answer = forms.CharField(label=_("보낼 답변"), widget=forms.Textarea(attrs={"rows": 8, "cols": 90}), required=False,
                             max_length=1000)
    decision = forms.ChoiceField(label=_("처리"), choices=[("approve", _("승인하고 전송")), ("close", _("답변 없이 종료"))],
                                 widget=forms.RadioSelect, initial="approve")
    note = forms.CharField(label=_("메모"), required=False, max_length=500)

    class Meta:
        model = ReviewItem
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inquiry = self.instance
        self.fields["answer"].initial = inquiry.final_answer or inquiry.draft_answer

    def clean(self):
        data = super().clean()
        if data.get("decision") == "approve" and len((data.get("answer") or "").strip()) < 2:
            self.add_error("answer", _("보낼 답변을 입력하세요."))
        if self.instance.send_status == Inquiry.SendStatus.SEND_UNKNOWN and data.get("decision") == "approve":
            self.add_error("decision", _("이미 전송되었을 수 있습니다. 마켓에서 확인한 뒤 종료하세요."))
        return data


@admin.register(ReviewItem)
class ReviewQueueAdmin(admin.ModelAdmin):
    """For CS agents: what needs a person, oldest first, with the draft prefilled."""

    form = ReviewForm
    list_display = ["id", "account", "kind", "short_content", "intent", "confidence_score", "why", "created_at"]
    list_filter = ["account", ("intent", ConfiguredIntentFilter), "status", "decision_mode"]
    list_select_related = ["account"]
    search_fields = ["=external_id", "content"]
    ordering = ["created_at"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    readonly_fields = ["account", "kind", "created_at", "title", "content", "product_name", "intent", "confidence_score",
                       "why", "risk_hits_display", "gates_display", "draft_answer", "last_send_error"]
    fieldsets = [
        (_("문의"), {"fields": ["account", "kind", "created_at", "title", "content", "product_name"]}),
        (_("AI 판단"), {"fields": ["intent", "confidence_score", "why", "risk_hits_display", "gates_display", "draft_answer",
                                 "last_send_error"]}),
        (_("답변"), {"fields": ["answer", "decision", "note"]}),
    ]
    short_content = InquiryAdmin.short_content
    risk_hits_display = InquiryAdmin.risk_hits_display
    gates_display = InquiryAdmin.gates_display

    def get_queryset(self, request):
        return super().get_queryset(request).filter(Inquiry.REVIEW_QUEUE_Q).defer("raw_payload")

    def _can_review(self, request) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    def has_module_permission(self, request):
        return self._can_review(request)

    def has_view_permission(self, request, obj=None):
        return self._can_review(request)

    def has_change_permission(self, request, obj=None):
        return self._can_review(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("사람이 필요한 이유"))
    def why(self, obj: Inquiry) -> str:
        if obj.is_test_mode:
            return str(_("테스트 모드로 전송 안 됨"))
        if obj.status == Inquiry.Status.AUTO_SEND and obj.decision_mode == "SHADOW":
            return str(_("섀도 모드 후보 (AI가 자동 전송 가능 판단)"))
        if obj.send_status == Inquiry.SendStatus.SEND_UNKNOWN:
            return str(_("전송 결과 불명 — 마켓에서 확인 필요"))
        if obj.send_status == Inquiry.SendStatus.SEND_FAILED:
            return str(_("전송 실패: %(err)s")) % {"err": obj.last_send_error[:80]}
        return obj.decision_reason

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if data["decision"] == "approve":
                review.inquiry_approve(inquiry=obj, user=request.user, answer=data["answer"], note=data.get("note", ""))
                self.message_user(request, _("승인했습니다. 전송 경로로 넘어갑니다."), messages.SUCCESS)
            else:
                review.inquiry_close(inquiry=obj, user=request.user, note=data.get("note", ""))
                self.message_user(request, _("답변 없이 종료했습니다."), messages.SUCCESS)
        except (review.ReviewError, PermissionDenied) as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def save_related(self, request, form, formsets, change):
        pass  # the review services own every write

    def response_change(self, request, obj):
        # Back to the queue, with the review service's message only (not the generic "was changed").
        return HttpResponseRedirect(reverse("admin:inquiries_reviewitem_changelist"))
