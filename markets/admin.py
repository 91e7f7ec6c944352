from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from markets import services
from markets.models import SECRET_FIELDS, MalformedPayload, MarketAccount, MarketCode, PollCursor
from partialauto.admin_utils import ReadOnlyAdmin
from partialauto.crypto import SecretDecryptionError


class MarketAccountForm(forms.ModelForm):
    """Secrets are write-only: the inputs start empty, and an empty input keeps the stored value."""

    access_key = forms.CharField(label=_("쿠팡 Access Key"), required=False, widget=forms.PasswordInput(render_value=False))
    secret_key = forms.CharField(label=_("쿠팡 Secret Key"), required=False, widget=forms.PasswordInput(render_value=False))
    client_secret = forms.CharField(label=_("네이버 Client Secret"), required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = MarketAccount
        fields = ["name", "market_code", "is_active", "seller_name", "api_base_url", "vendor_id", "reply_by", "client_id"]

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
    list_display = ["name", "market_code", "is_active", "seller_name", "credentials_state", "api_base_url", "updated_at"]
    list_filter = ["market_code", "is_active"]
    search_fields = ["name", "seller_name", "vendor_id", "client_id"]
    readonly_fields = ["id", "credentials_state", "credentials_updated_at", "created_at", "updated_at"]
    actions = ["test_connection"]

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
            from policy.services import rollout_for

            rollout_for(obj)

    @admin.action(description=_("연결 테스트"))
    def test_connection(self, request, queryset):
        from markets.connect import check_account_connection

        for account in queryset:
            ok, message = check_account_connection(account)
            self.message_user(request, f"{account.name}: {message}", messages.SUCCESS if ok else messages.ERROR)


@admin.register(PollCursor)
class PollCursorAdmin(ReadOnlyAdmin):
    list_display = ["account", "kind", "watermark", "last_polled_at", "last_success_at", "last_fetched", "last_error"]
    list_filter = ["kind"]
    list_select_related = ["account"]


@admin.register(MalformedPayload)
class MalformedPayloadAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "account", "kind", "error"]
    list_filter = ["kind", "account"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    search_fields = ["error"]
