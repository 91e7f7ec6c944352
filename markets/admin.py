from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from markets import services
from markets.models import (
    DEFAULT_POLL_INTERVAL,
    SECRET_FIELDS,
    MalformedPayload,
    MarketAccount,
    MarketCode,
    PollCursor,
    ShippingPolicy,
)
from markets.signals import account_added
from partialauto.admin_utils import ReadOnlyAdmin, verdict
from partialauto.crypto import SecretDecryptionError


class MarketAccountForm(forms.ModelForm):
    """Secrets are write-only: the inputs start empty, and an empty input keeps the stored value."""

    access_key = forms.CharField(
        label=_("쿠팡 액세스 키"), required=False, widget=forms.PasswordInput(render_value=False)
    )
    secret_key = forms.CharField(
        label=_("쿠팡 시크릿 키"), required=False, widget=forms.PasswordInput(render_value=False)
    )
    client_secret = forms.CharField(
        label=_("네이버 클라이언트 시크릿"), required=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = MarketAccount
        fields = [
            "name",
            "market_code",
            "is_active",
            "seller_name",
            "api_base_url",
            "vendor_id",
            "reply_by",
            "client_id",
            "poll_interval_seconds",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "poll_interval_seconds" in self.fields:
            self.fields["poll_interval_seconds"].required = False  # empty: the default

    def clean_poll_interval_seconds(self):
        value = self.cleaned_data.get("poll_interval_seconds")
        return DEFAULT_POLL_INTERVAL if value is None else value

    def clean(self):
        data = super().clean()
        market = data.get("market_code")
        if market == MarketCode.COUPANG and not data.get("vendor_id"):
            self.add_error("vendor_id", _("쿠팡 계정은 업체코드가 필요합니다."))
        if market == MarketCode.SMARTSTORE and not data.get("client_id"):
            self.add_error("client_id", _("스마트스토어 계정은 애플리케이션 ID가 필요합니다."))
        if market and not self.instance.has_credentials:
            for field in SECRET_FIELDS[MarketCode(market)]:
                if not data.get(field):
                    self.add_error(field, _("새 계정에는 이 인증정보가 필요합니다."))
        return data


@admin.register(MarketAccount)
class MarketAccountAdmin(SimpleHistoryAdmin):
    form = MarketAccountForm
    list_display = [
        "name",
        "market_code",
        "is_active",
        "seller_name",
        "credentials_state",
        "shipping_policy_state",
        "api_base_url",
        "updated_at",
    ]
    list_filter = ["market_code", "is_active"]
    list_select_related = ["shipping_policy"]
    search_fields = ["name", "seller_name", "vendor_id", "client_id"]
    readonly_fields = [
        "id",
        "credentials_state",
        "shipping_policy_link",
        "credentials_updated_at",
        "created_at",
        "updated_at",
    ]
    actions = ["test_connection"]

    @admin.display(description=_("배송 정책"))
    def shipping_policy_state(self, obj: MarketAccount) -> str:
        policy = getattr(obj, "shipping_policy", None)
        if policy is None:
            return verdict("fail", _("없음"))
        if policy.is_complete:
            return verdict("pass", _("입력 완료"))
        return verdict("fail", _("미입력 %(n)s개") % {"n": len(policy.missing)})

    @admin.display(description=_("배송 정책"))
    def shipping_policy_link(self, obj: MarketAccount) -> str:
        """The account's shipping policy: its state and a link to edit it (or to fill it in)."""
        if obj.pk is None:
            return str(_("계정을 저장한 뒤 입력할 수 있습니다."))
        policy = getattr(obj, "shipping_policy", None)
        if policy is None:
            return format_html(
                '{} — <a href="{}?account={}">{}</a>',
                verdict("fail", _("배송 정책이 없습니다")),
                reverse("admin:markets_shippingpolicy_add"),
                obj.pk,
                _("배송 정책 입력"),
            )
        state = (
            _("입력 완료")
            if policy.is_complete
            else str(_("빠진 항목: %(fields)s")) % {"fields": ", ".join(policy.missing)}
        )
        return format_html(
            '{} — <a href="{}">{}</a>',
            verdict("pass" if policy.is_complete else "fail", state),
            reverse("admin:markets_shippingpolicy_change", args=[policy.pk]),
            _("배송 정책 수정"),
        )

    @admin.display(description=_("인증정보"))
    def credentials_state(self, obj: MarketAccount) -> str:
        if not obj.has_credentials:
            return str(_("없음"))
        try:
            names = sorted(obj.get_credentials())
        except SecretDecryptionError:
            return str(_("복호화 불가 (키 확인 필요)"))
        return str(_("저장됨 (%(fields)s)")) % {"fields": ", ".join(names)}

    def save_model(self, request, obj, form, change):
        secrets = {f: form.cleaned_data.get(f, "") for f in ("access_key", "secret_key", "client_secret")}
        allowed = SECRET_FIELDS[MarketCode(obj.market_code)]
        obj.set_credentials({k: v for k, v in secrets.items() if k in allowed and v})
        super().save_model(request, obj, form, change)
        if not change:
            account_added.send(sender=MarketAccount, account=obj)

    @admin.action(description=_("연결 테스트"))
    def test_connection(self, request, queryset):
        from markets.connect import check_account_connection

        for account in queryset:
            ok, message = check_account_connection(account)
            self.message_user(request, f"{account.name}: {message}", messages.SUCCESS if ok else messages.ERROR)


@admin.register(PollCursor)
class PollCursorAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "kind",
        "watermark",
        "last_polled_at",
        "last_success_at",
        "last_fetched",
        "last_error",
        "last_swept_at",
        "last_sweep_found",
        "last_sweep_error",
    ]
    list_filter = ["kind"]
    list_select_related = ["account"]


@admin.register(MalformedPayload)
class MalformedPayloadAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "account", "kind", "error"]
    list_filter = ["kind", "account"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    search_fields = ["error"]


class ShippingPolicyForm(forms.ModelForm):
    """Field errors say what is wrong and what is allowed; the checks are the service's, as for imports."""

    class Meta:
        model = ShippingPolicy
        fields = ["account", *services.SHIPPING_POLICY_FIELDS]
        widgets = {
            "dispatch_cutoff": forms.TimeInput(format="%H:%M", attrs={"placeholder": "14:00", "size": 6}),
            "return_address": forms.TextInput(attrs={"size": 90}),
        }
        error_messages = {
            "dispatch_cutoff": {"invalid": _("시각은 HH:MM 형식으로 입력하세요 (00:00~23:59, 예: 14:00).")},
            "account": {"unique": _("이 계정에는 이미 배송 정책이 있습니다. 목록에서 그 정책을 열어 고치세요.")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "account" in self.fields:  # adding: only accounts without a policy (one policy per account)
            self.fields["account"].queryset = MarketAccount.objects.filter(shipping_policy__isnull=True).order_by(
                "name"
            )
        for field in self.fields.values():
            if isinstance(field, forms.IntegerField):
                field.error_messages["invalid"] = _("숫자(정수)만 입력하세요. 금액은 원 단위, 기간은 일 단위입니다.")

    def clean(self):
        data = super().clean()
        values = {f: data[f] for f in services.SHIPPING_POLICY_FIELDS if f in data}
        if "transit_days_min" not in values or "transit_days_max" not in values:
            values.pop("transit_days_min", None)  # one of them is already wrong: compare once both are valid
            values.pop("transit_days_max", None)
        errors = services.shipping_policy_check(values=values, policy=self.instance if self.instance.pk else None)
        for field, field_errors in errors.items():
            for message in field_errors:
                self.add_error(None if field == services.ALL_FIELDS else field, message)
        return data


class PolicyCompleteFilter(admin.SimpleListFilter):
    title = _("입력 상태")
    parameter_name = "complete"

    def lookups(self, request, model_admin):
        return [("yes", _("입력 완료")), ("no", _("빠진 항목 있음"))]

    def queryset(self, request, queryset):
        missing = Q()
        for name in ShippingPolicy.REQUIRED:
            missing |= Q(**{f"{name}__isnull": True})
            if not ShippingPolicy._meta.get_field(name).null:
                missing |= Q(**{name: ""})
        if self.value() == "yes":
            return queryset.exclude(missing)
        if self.value() == "no":
            return queryset.filter(missing)
        return queryset


@admin.register(ShippingPolicy)
class ShippingPolicyAdmin(SimpleHistoryAdmin):
    """One policy per account; every save goes through ``services.shipping_policy_update``."""

    form = ShippingPolicyForm
    list_display = [
        "account",
        "completeness",
        "carrier_code",
        "dispatch_cutoff",
        "base_fee",
        "free_shipping_threshold",
        "return_fee",
        "exchange_fee",
        "updated_at",
    ]
    list_select_related = ["account"]
    list_filter = [PolicyCompleteFilter, "account__market_code", "carrier_code"]
    search_fields = ["account__name", "return_address"]
    ordering = ["account__name"]
    fieldsets = [
        (None, {"fields": ["account"]}),
        (
            _("출고"),
            {
                "fields": [
                    "dispatch_cutoff",
                    "dispatch_lead_days",
                    "ships_on_saturday",
                    "carrier_code",
                    "transit_days_min",
                    "transit_days_max",
                    "stalled_after_days",
                ]
            },
        ),
        (_("배송비"), {"fields": ["base_fee", "free_shipping_threshold", "jeju_surcharge", "remote_surcharge"]}),
        (_("반품·교환"), {"fields": ["return_fee", "exchange_fee", "return_address"]}),
        (_("제공 서비스"), {"fields": ["dawn_delivery", "convenience_pickup", "overseas_shipping"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["account"] if obj is not None else []

    @admin.display(description=_("입력 상태"))
    def completeness(self, obj: ShippingPolicy) -> str:
        if obj.is_complete:
            return verdict("pass", _("입력 완료"))
        return verdict("fail", _("빠진 항목: %(fields)s") % {"fields": ", ".join(obj.missing)})

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data[f] for f in services.SHIPPING_POLICY_FIELDS if f in form.cleaned_data}
        policy = services.shipping_policy_update(
            account=obj.account, values=values, actor=request.user, reason=str(_("관리자 화면에서 수정"))
        )
        obj.pk = policy.pk  # the admin's redirect and log entry point at the saved row


from markets import admin_orders as admin_orders  # noqa: E402  (registers the order mirror's pages)
