from __future__ import annotations

import re
from datetime import timedelta
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries import review, services
from inquiries.agent.labels import reason_label, risk_term_label
from inquiries.calibration import AGREE_AT, MIN_SAMPLE
from inquiries.hooks import hooks
from inquiries.models import (
    FollowUp,
    Inquiry,
    InquiryEvent,
    Intent,
    KnowledgeEntry,
    ProductFact,
    ProductKnowledge,
    ReviewItem,
    SendAttempt,
)
from inquiries.review import REVIEW_PERMISSION
from markets.clients.parsing import mask_name
from markets.models import MarketAccount
from partialauto import datafiles
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
    readonly_fields = [
        *INQUIRY_FIELDS,
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
        "send_status",
        "send_attempts",
        "last_send_error",
        "is_test_mode",
        "next_attempt_at",
        "sent_at",
        "first_answered_at",
        "remote_ref",
        "lease_expires_at",
        "reviewed_by",
        "reviewed_at",
        "human_edited",
        "review_note",
        "decision_trace_display",
        "raw_payload_display",
    ]

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


@admin.register(Intent)
class IntentAdmin(SimpleHistoryAdmin):
    list_display = ["name", "description", "agreement", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]
    search_fields = ["name", "description"]

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=90)
        compared = Inquiry.objects.filter(intent=OuterRef("name"), created_at__gte=since, draft_agreement__isnull=False)
        return (
            super()
            .get_queryset(request)
            .annotate(
                compared=Subquery(compared.values("intent").annotate(n=Count("id")).values("n")[:1]),
                agreed=Subquery(
                    compared.filter(draft_agreement__gte=AGREE_AT)
                    .values("intent")
                    .annotate(n=Count("id"))
                    .values("n")[:1]
                ),
            )
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


# --- the seller's product knowledge --------------------------------------------------------------

ALIAS_SPLIT = re.compile(r"[|,\s]+")
FACT_HISTORY_SHOWN = 20


class ProductKnowledgeForm(forms.ModelForm):
    """Aliases as one line of ids; the checks (and their sentences) are the service's, as for imports."""

    aliases = forms.CharField(
        label=_("같은 상품의 다른 ID"),
        required=False,
        widget=forms.TextInput(attrs={"size": 90}),
        help_text=_(
            "여러 개는 | 로 나눕니다. 예: 85012345001 | 7121034501 (쿠팡 옵션ID, 판매자상품ID, 네이버 상품번호)"
        ),
    )

    class Meta:
        model = ProductKnowledge
        fields = ["account", "product_id", "name", "aliases", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].empty_label = _("모든 계정 공용")
        self.fields["account"].queryset = MarketAccount.objects.order_by("name")
        if self.instance.pk:
            self.initial["aliases"] = " | ".join(map(str, self.instance.aliases or []))

    def clean_product_id(self) -> str:
        value = (self.cleaned_data.get("product_id") or "").strip()
        problem = services.product_id_check(value, what=str(_("상품 ID")))
        if problem:
            raise ValidationError(problem)
        return value

    def clean_aliases(self) -> list[str]:
        cells = ALIAS_SPLIT.split(self.cleaned_data.get("aliases") or "")
        aliases, problems = services.product_aliases_clean(
            cells, product_id=(self.data.get(self.add_prefix("product_id")) or "").strip()
        )
        if problems:
            raise ValidationError(problems)
        return aliases

    def clean(self):
        data = super().clean()
        if "product_id" not in data or "aliases" not in data:
            return data
        account, product_id = data.get("account"), data["product_id"]
        same = ProductKnowledge.objects.filter(account=account, product_id=product_id).exclude(pk=self.instance.pk)
        if same.exists():
            scope = account.name if account else _("모든 계정 공용")
            self.add_error(
                "product_id",
                _(
                    "이 상품 ID의 상품 지식이 이미 있습니다 (%(scope)s). 목록에서 그 상품을 열어 고치거나 "
                    "다른 상품 ID를 입력하세요."
                )
                % {"scope": scope},
            )
            return data
        same_scope = self.instance.pk and self.instance.account_id == getattr(account, "pk", None)
        own = [self.instance.product_id] if same_scope else []  # this product's stored ids are being replaced
        for field, ids in (("product_id", [product_id]), ("aliases", data["aliases"])):
            for conflict in services.product_knowledge_id_conflicts(account=account, ids=ids, exclude_product_ids=own):
                self.add_error(field, conflict)
        return data


class ProductFactForm(forms.ModelForm):
    class Meta:
        model = ProductFact
        fields = ["text", "sort_order"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 2, "cols": 110}),
            "sort_order": forms.NumberInput(attrs={"style": "width:5em"}),
        }
        error_messages = {
            "text": {"required": _("사실이 비어 있습니다. 한 문장을 적거나, 지우려면 '삭제'를 체크하세요.")}
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sort_order"].required = False
        self.fields["sort_order"].help_text = ""
        if self.instance.pk is None:
            self.initial["sort_order"] = None  # a new fact goes last unless given a place
        self.place_last = False

    def clean_sort_order(self) -> int:
        value = self.cleaned_data.get("sort_order")
        self.place_last = value is None
        return 0 if value is None else value

    def clean_text(self) -> str:
        text = self.cleaned_data.get("text") or ""
        problem = services.product_fact_check(text)
        if problem:
            raise ValidationError(problem)
        return text.strip()


class ProductFactFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or self._should_delete_form(form):
                continue
            text = form.cleaned_data.get("text")
            if text in seen:
                form.add_error("text", _("같은 사실이 이미 있습니다. 한 번만 적어 주세요."))
            seen.add(text)

    def facts_in_order(self) -> list[str]:
        """The facts to keep, by their order number (blank: after the numbered ones), then as listed."""
        rows = []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None)
            # BaseFormSet._should_delete_form(): the formset's own test of the delete box
            if not data or not data.get("text") or self._should_delete_form(form):  # type: ignore[attr-defined]  # private Django API, not in django-stubs
                continue
            place_last = cast(ProductFactForm, form).place_last  # the inline's form is ProductFactForm
            order = 1_000_000 if place_last else data.get("sort_order") or 0
            rows.append((order, index, data["text"]))
        return [text for _order, _index, text in sorted(rows)]


class ProductFactInline(admin.TabularInline):
    """Facts are part of their product: whoever may edit the product may edit its facts."""

    model = ProductFact
    form = ProductFactForm
    formset = ProductFactFormSet
    extra = 1
    ordering = ["sort_order", "id"]
    verbose_name = _("사실")
    verbose_name_plural = _("사실 (한 줄에 한 문장, 순서대로)")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("inquiries.view_productknowledge") or self._can_edit(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._can_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._can_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._can_edit(request, obj)

    def _can_edit(self, request, obj) -> bool:
        return request.user.has_perm(
            "inquiries.change_productknowledge" if obj is not None else "inquiries.add_productknowledge"
        )


class ScopeFilter(admin.SimpleListFilter):
    """Filter by account, with the knowledge every account shares as its own choice."""

    title = _("계정")
    parameter_name = "scope"
    SHARED = "shared"

    def lookups(self, request, model_admin):
        return [
            (self.SHARED, _("모든 계정 공용")),
            *(
                (str(a.pk), a.name)
                for a in MarketAccount.objects.filter(product_knowledge__isnull=False).distinct().order_by("name")
            ),
        ]

    def queryset(self, request, queryset):
        if self.value() == self.SHARED:
            return queryset.filter(account__isnull=True)
        if self.value():
            return queryset.filter(account_id=self.value())
        return queryset


class ProductKnowledgeUploadForm(forms.Form):
    file = forms.FileField(label=_("파일"), help_text=_("JSON 또는 CSV (UTF-8, BOM 있어도 됨). 형식은 아래를 보세요."))
    account = forms.ModelChoiceField(
        label=_("계정"),
        queryset=MarketAccount.objects.order_by("name"),
        required=False,
        empty_label=_("모든 계정 공용"),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > datafiles.MAX_FILE_BYTES:
            raise ValidationError(
                _("파일이 너무 큽니다 (%(size)s바이트). %(max)s바이트까지 올릴 수 있습니다.")
                % {"size": upload.size, "max": datafiles.MAX_FILE_BYTES}
            )
        return upload


@admin.register(ProductKnowledge)
class ProductKnowledgeAdmin(SimpleHistoryAdmin):
    """Every write goes through ``inquiries.services``: a product and its facts are saved by one call, and
    the upload page runs the same import as the ``product_knowledge`` command."""

    form = ProductKnowledgeForm
    inlines = [ProductFactInline]
    list_display = ["product_id", "name", "scope", "fact_count", "aliases_display", "is_active", "updated_at"]
    list_filter = [ScopeFilter, "is_active"]
    list_select_related = ["account"]
    search_fields = ["product_id", "name", "aliases"]
    actions = ["export_json", "export_csv"]
    change_list_template = "admin/inquiries/productknowledge/change_list.html"
    fieldsets = [
        (None, {"fields": ["account", "product_id", "name", "aliases", "is_active"]}),
        (_("사실 변경 기록"), {"classes": ["collapse"], "fields": ["fact_history"]}),
    ]
    readonly_fields = ["fact_history"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(num_facts=Count("facts"))

    @admin.display(description=_("적용 범위"), ordering="account__name")
    def scope(self, obj: ProductKnowledge) -> str:
        return obj.account.name if obj.account else str(_("모든 계정 공용"))

    @admin.display(description=_("사실 수"), ordering="num_facts")
    def fact_count(self, obj: ProductKnowledge) -> int:
        count = getattr(obj, "num_facts", None)
        return obj.facts.count() if count is None else count

    @admin.display(description=_("다른 ID"))
    def aliases_display(self, obj: ProductKnowledge) -> str:
        return " | ".join(map(str, obj.aliases or [])) or "-"

    @admin.display(description=_("최근 사실 변경"))
    def fact_history(self, obj: ProductKnowledge | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        records = list(
            ProductFact.history.filter(product_id=obj.pk)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:FACT_HISTORY_SHOWN]
        )
        if not records:
            return "-"
        kinds = {"+": _("추가"), "~": _("순서 변경"), "-": _("삭제")}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{timezone.localtime(r.history_date):%Y-%m-%d %H:%M}",
                    r.history_user or r.history_change_reason or "-",
                    kinds.get(r.history_type, r.history_type),
                    r.text,
                )
                for r in records
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("시각"),
            _("누가"),
            _("변경 종류"),
            _("사실"),
            rows,
        )

    # -- saving: one service call for the product and its facts ---------------------------------

    def save_model(self, request, obj, form, change):
        pass  # saved in save_related, together with its facts

    def save_related(self, request, form, formsets, change):
        facts = None
        for formset in formsets:
            formset.save(commit=False)  # only fills new/changed/deleted_objects for the change message
            if isinstance(formset, ProductFactFormSet):
                facts = formset.facts_in_order()
        services.product_knowledge_save(
            product=form.instance, facts=facts, actor=request.user, reason=str(_("관리자 화면에서 수정"))
        )

    # -- upload page and export actions ---------------------------------------------------------

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="inquiries_productknowledge_import"),
            *super().get_urls(),
        ]

    def _can_import(self, request) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self._can_import(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def import_view(self, request):
        if not self._can_import(request):
            raise PermissionDenied
        form = ProductKnowledgeUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload, account = form.cleaned_data["file"], form.cleaned_data["account"]
            try:
                result = services.product_knowledge_import(
                    raw=b"".join(upload.chunks()), filename=upload.name, account=account, actor=request.user
                )
            except datafiles.DataFileError as exc:
                form.add_error("file", [_("가져오지 않았습니다. 아무것도 바뀌지 않았습니다."), *exc.problems])
            else:
                note = str(_("파일에서 가져옴: %(file)s")) % {"file": upload.name}
                for product, status in result.written:
                    if status == "created":
                        self.log_addition(request, product, note)
                    elif status == "updated":
                        self.log_change(request, product, note)
                self.message_user(
                    request,
                    _(
                        "%(file)s을(를) 가져왔습니다 (%(scope)s): 상품 %(created)s개 추가, %(updated)s개 변경, "
                        "%(unchanged)s개 그대로 · 사실 %(facts)s개 (새로 %(added)s, 삭제 %(removed)s)"
                    )
                    % {
                        "file": upload.name,
                        "scope": account.name if account else _("모든 계정 공용"),
                        "created": result.created,
                        "updated": result.updated,
                        "unchanged": result.unchanged,
                        "facts": result.facts_written,
                        "added": result.facts_added,
                        "removed": result.facts_removed,
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:inquiries_productknowledge_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("상품 지식 가져오기"),
            "form": form,
            "opts": self.model._meta,
            "max_facts_chars": services.FACT_MAX_CHARS,
        }
        return TemplateResponse(request, "admin/inquiries/productknowledge/import.html", context)

    @admin.action(description=_("선택한 상품 지식을 JSON으로 내보내기"), permissions=["view"])
    def export_json(self, request, queryset):
        return self._export(request, queryset, datafiles.JSON)

    @admin.action(description=_("선택한 상품 지식을 CSV로 내보내기"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, datafiles.CSV)

    def _export(self, request, queryset, fmt: str):
        scopes = set(queryset.order_by().values_list("account_id", flat=True).distinct())
        if len(scopes) > 1:
            self.message_user(
                request,
                _(
                    "한 파일에는 한 계정(또는 모든 계정 공용)의 상품만 담을 수 있습니다. 목록 오른쪽의 계정 "
                    "필터로 좁힌 뒤 다시 내보내세요."
                ),
                messages.ERROR,
            )
            return None
        account_id = next(iter(scopes), None)
        scope = MarketAccount.objects.get(pk=account_id).name if account_id else "shared"
        text = services.product_knowledge_export(products=queryset, fmt=fmt)
        if fmt == datafiles.CSV:
            # A byte-order mark so that a spreadsheet opens the Korean text as UTF-8; the import accepts it.
            response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(text, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="product-knowledge-{scope}.{fmt}"'
        return response


from inquiries import admin_models as admin_models  # noqa: E402  (registers the trained versions' pages)
