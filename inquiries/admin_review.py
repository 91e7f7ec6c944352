"""The human review queue in the admin: what needs a person, oldest first, with the draft prefilled,
its facts and a similar past answer; approving or closing goes through :mod:`inquiries.review`.
Registered when ``inquiries.admin`` loads."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from inquiries import review
from inquiries.admin_inquiries import ConfiguredIntentFilter, InquiryAdmin
from inquiries.agent.labels import reason_label
from inquiries.hooks import hooks
from inquiries.models import Inquiry, Intent, ReviewItem
from inquiries.review import REVIEW_PERMISSION
from partialauto.admin_utils import LargeTablePaginator, NoAddNoDelete


class ReviewForm(forms.ModelForm):
    """The answer box starts with the AI draft; the person edits it and approves, or closes."""

    answer = forms.CharField(
        label=_("보낼 답변"), widget=forms.Textarea(attrs={"rows": 8, "cols": 90}), required=False, max_length=1000
    )
    # Set by the button the person presses (approve or close), never by a default: there is no "save".
    decision = forms.ChoiceField(
        label=_("처리"),
        choices=[("approve", _("승인하고 전송")), ("close", _("답변 없이 종료"))],
        required=False,
        widget=forms.HiddenInput,
    )
    confirm_risk = forms.BooleanField(
        label=_("위험 키워드를 확인했고, 이 답변을 보내도 됩니다"),
        required=False,
        help_text=_("위험 키워드가 잡힌 문의입니다. 고객의 글과 답변을 다시 읽고 체크한 뒤 승인하세요."),
    )
    note = forms.CharField(label=_("메모"), required=False, max_length=500)
    intent_label = forms.ChoiceField(
        label=_("문의 의도 (사람 판단)"),
        required=False,
        help_text=_("AI가 고른 의도가 틀렸으면 고쳐 주세요. 다음 학습(train_agent)에 쓰입니다."),
    )

    class Meta:
        model = ReviewItem
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        inquiry = self.instance
        self.fields["answer"].initial = inquiry.final_answer or inquiry.draft_answer
        names = list(
            Intent.objects.filter(is_active=True).order_by("sort_order", "name").values_list("name", flat=True)
        )
        if inquiry.intent and inquiry.intent not in names:
            names.append(inquiry.intent)
        self.fields["intent_label"].choices = [(n, n) for n in names]
        self.fields["intent_label"].initial = inquiry.labelled_intent or inquiry.intent

    def clean(self):
        data = super().clean()
        if data.get("decision") not in ("approve", "close"):
            raise ValidationError(_("'승인하고 전송' 또는 '답변 없이 종료' 버튼을 눌러 주세요."))
        if data.get("decision") == "approve" and self.instance.risk_hits and not data.get("confirm_risk"):
            self.add_error("confirm_risk", _("위험 키워드가 있는 문의입니다. 확인했다면 체크하고 다시 승인하세요."))
        if data.get("decision") == "approve" and len((data.get("answer") or "").strip()) < 2:
            self.add_error("answer", _("보낼 답변을 입력하세요."))
        if self.instance.send_status == Inquiry.SendStatus.SEND_UNKNOWN and data.get("decision") == "approve":
            self.add_error("decision", _("이미 전송되었을 수 있습니다. 마켓에서 확인한 뒤 종료하세요."))
        return data


@admin.register(ReviewItem)
class ReviewQueueAdmin(NoAddNoDelete, admin.ModelAdmin):
    """For CS agents: what needs a person, oldest first, with the draft prefilled."""

    form = ReviewForm
    list_display = ["id", "account", "kind", "short_content", "intent", "confidence_score", "why", "created_at"]
    list_filter = ["account", ("intent", ConfiguredIntentFilter), "status", "decision_mode"]
    list_select_related = ["account"]
    search_fields = ["=external_id", "content"]
    ordering = ["created_at"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    change_form_template = "admin/inquiries/reviewitem/change_form.html"
    readonly_fields = [
        "account",
        "kind",
        "created_at",
        "title",
        "content",
        "product_name",
        "intent",
        "confidence_score",
        "why",
        "risk_hits_display",
        "gates_display",
        "facts_display",
        "past_answer_display",
        "draft_answer",
        "last_send_error",
    ]
    fieldsets = [
        (_("문의"), {"fields": ["account", "kind", "created_at", "title", "content", "product_name"]}),
        (
            _("AI 판단"),
            {"fields": ["intent", "confidence_score", "why", "risk_hits_display", "gates_display", "last_send_error"]},
        ),
        (_("초안과 그 근거"), {"fields": ["draft_answer", "facts_display", "past_answer_display"]}),
        (_("답변"), {"fields": ["intent_label", "answer", "note"]}),
    ]
    short_content = InquiryAdmin.short_content
    risk_hits_display = InquiryAdmin.risk_hits_display
    gates_display = InquiryAdmin.gates_display
    facts_display = InquiryAdmin.facts_display

    def get_queryset(self, request):
        return super().get_queryset(request).filter(Inquiry.REVIEW_QUEUE_Q).defer("raw_payload")

    def get_fieldsets(self, request, obj=None):
        """An inquiry with a risk hit asks for one more confirmation beside the answer."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not obj.risk_hits:
            return fieldsets
        *head, (title, options) = fieldsets
        return [*head, (title, {**options, "fields": [*options["fields"], "confirm_risk"]})]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["has_risk"] = bool(obj is not None and obj.risk_hits)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description=_("비슷한 과거 답변"))
    def past_answer_display(self, obj: Inquiry) -> str:
        """The past question the recall step matched, and what a person sent for it."""
        trace = ((obj.decision_trace or {}).get("agent") or {}).get("trace") or []
        match = next((r.get("match") for r in trace if r.get("step") == "recall" and r.get("match")), None)
        past = (
            Inquiry.objects.filter(pk=match.get("inquiry"))
            .only("pk", "content", "final_answer", "external_answer", "status")
            .first()
            if match
            else None
        )
        if past is None or match is None:  # no match, no past inquiry
            return str(_("없음: 비슷한 과거 답변을 쓰지 않았습니다."))
        answer = past.final_answer if past.status == Inquiry.Status.APPROVED else past.external_answer
        return format_html(
            (
                '<div class="past-answer"><a href="{}">{} #{}</a> ({} {})'
                "<br><strong>{}</strong> {}<br><strong>{}</strong> {}</div>"
            ),
            reverse("admin:inquiries_inquiry_change", args=[past.pk]),
            _("문의"),
            past.pk,
            _("유사도"),
            f"{float(match.get('similarity') or 0):.2f}",
            _("질문:"),
            past.content[:300],
            _("보낸 답변:"),
            answer[:500],
        )

    def _can_review(self, request) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    def has_module_permission(self, request):
        return self._can_review(request)

    def has_view_permission(self, request, obj=None):
        return self._can_review(request)

    def has_change_permission(self, request, obj=None):
        return self._can_review(request)

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
        agent = (obj.decision_trace or {}).get("agent") or {}
        if agent.get("needs_human") and agent.get("reason") not in (None, "", "OK", "RISK_KEYWORD"):
            # The agent's own reason first (an order a person must act on, no fact behind the draft…): the
            # first failing gate alone ("confidence below threshold") would not say why.
            return f"{reason_label(agent['reason'])} — {obj.decision_reason}"
        return obj.decision_reason

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if data["decision"] == "approve":
                review.inquiry_approve(
                    inquiry=obj,
                    user=request.user,
                    answer=data["answer"],
                    note=data.get("note", ""),
                    intent=data.get("intent_label") or None,
                )
                self.message_user(request, _("승인했습니다. 전송 경로로 넘어갑니다."), messages.SUCCESS)
                if hooks.approved_answer_held(obj.pk):
                    self.message_user(
                        request,
                        _(
                            "지금은 테스트 모드(또는 긴급 정지)라서 이 답변은 전송 대기합니다. 끝나면 다시 "
                            "승인하지 않아도 전송됩니다."
                        ),
                        messages.WARNING,
                    )
            else:
                review.inquiry_close(
                    inquiry=obj, user=request.user, note=data.get("note", ""), intent=data.get("intent_label") or None
                )
                self.message_user(request, _("답변 없이 종료했습니다."), messages.SUCCESS)
        except (review.ReviewError, PermissionDenied) as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def save_related(self, request, form, formsets, change):
        pass  # the review services own every write

    def response_change(self, request, obj):
        # Back to the queue, with the review service's message only (not the generic "was changed").
        return HttpResponseRedirect(reverse("admin:inquiries_reviewitem_changelist"))
