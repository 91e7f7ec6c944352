"""The seller's product knowledge in the admin: products with their facts, aliases and scope, a file
import, and each fact's history. Registered when ``inquiries.admin`` loads."""

from __future__ import annotations

import re
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries import product_checks, product_files, services
from inquiries.models import (
    ProductFact,
    ProductKnowledge,
)
from markets.models import MarketAccount
from partialauto import datafiles

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
        problem = product_checks.product_id_check(value, what=str(_("상품 ID")))
        if problem:
            raise ValidationError(problem)
        return value

    def clean_aliases(self) -> list[str]:
        cells = ALIAS_SPLIT.split(self.cleaned_data.get("aliases") or "")
        aliases, problems = product_checks.product_aliases_clean(
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
            for conflict in product_checks.product_knowledge_id_conflicts(
                account=account, ids=ids, exclude_product_ids=own
            ):
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
        problem = product_checks.product_fact_check(text)
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
            "max_facts_chars": product_checks.FACT_MAX_CHARS,
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
        text = product_files.product_knowledge_export(products=queryset, fmt=fmt)
        if fmt == datafiles.CSV:
            # A byte-order mark so that a spreadsheet opens the Korean text as UTF-8; the import accepts it.
            response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(text, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="product-knowledge-{scope}.{fmt}"'
        return response
