"""Market accounts, their polling cursors, malformed payloads and the shared rate-limit buckets."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from partialauto.crypto import decrypt_json, encrypt_json


class MarketCode(models.TextChoices):
    COUPANG = "COUPANG", _("쿠팡")
    SMARTSTORE = "SMARTSTORE", _("스마트스토어")


class InquiryKind(models.TextChoices):
    COUPANG_ONLINE = "COUPANG_ONLINE", _("쿠팡 상품문의")
    COUPANG_CALLCENTER = "COUPANG_CALLCENTER", _("쿠팡 고객센터 문의")
    NAVER_QNA = "NAVER_QNA", _("네이버 상품 Q&A")
    NAVER_INQUIRY = "NAVER_INQUIRY", _("네이버 고객 문의")


KINDS_BY_MARKET = {
    MarketCode.COUPANG: (InquiryKind.COUPANG_ONLINE, InquiryKind.COUPANG_CALLCENTER),
    MarketCode.SMARTSTORE: (InquiryKind.NAVER_QNA, InquiryKind.NAVER_INQUIRY),
}

# Which credential names each market needs. They are stored encrypted, never shown back.
SECRET_FIELDS = {
    MarketCode.COUPANG: ("access_key", "secret_key"),
    MarketCode.SMARTSTORE: ("client_secret",),
}


class MarketAccountQuerySet(models.QuerySet["MarketAccount"]):
    def active(self) -> "MarketAccountQuerySet":
        return self.filter(is_active=True)


class MarketAccount(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(
        _("계정 이름"), max_length=64, unique=True, help_text=_("예: coupang_main. 명령어와 로그에서 쓰는 이름입니다.")
    )
    market_code = models.CharField(_("마켓"), max_length=16, choices=MarketCode.choices)
    is_active = models.BooleanField(_("사용"), default=True)
    seller_name = models.CharField(_("판매자 표시명"), max_length=100, blank=True, help_text=_("답변 인사말에 들어갑니다."))
    api_base_url = models.URLField(
        _("API 주소"), blank=True, help_text=_("비워 두면 실제 마켓 주소를 씁니다. 샌드박스를 쓸 때만 입력하세요.")
    )
    vendor_id = models.CharField(_("쿠팡 업체코드(vendorId)"), max_length=32, blank=True)
    reply_by = models.CharField(_("쿠팡 답변자 WING ID(replyBy)"), max_length=64, blank=True)
    client_id = models.CharField(_("네이버 애플리케이션 ID"), max_length=128, blank=True)
    credentials_encrypted = models.TextField(editable=False, blank=True, default="")
    credentials_updated_at = models.DateTimeField(_("인증정보 변경 시각"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("등록 시각"), auto_now_add=True)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["credentials_encrypted"])
    objects = MarketAccountQuerySet.as_manager()

    class Meta:
        db_table = "market_account"
        ordering = ["name"]
        verbose_name = _("마켓 계정")
        verbose_name_plural = _("마켓 계정")
        indexes = [models.Index(fields=["market_code", "is_active"], name="market_account_market_active")]

    def __str__(self) -> str:
        return self.name

    # Credentials are one encrypted JSON document; reading them needs the key, writing replaces them.
    def get_credentials(self) -> dict[str, str]:
        return decrypt_json(self.credentials_encrypted)

    def set_credentials(self, values: dict[str, str]) -> None:
        current = self.get_credentials() if self.credentials_encrypted else {}
        current.update({k: v for k, v in values.items() if v})
        self.credentials_encrypted = encrypt_json(current)

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(KINDS_BY_MARKET[MarketCode(self.market_code)])


class PollCursor(models.Model):
    """Where incremental polling of one account and inquiry kind has got to."""

    account = models.ForeignKey(MarketAccount, on_delete=models.CASCADE, related_name="poll_cursors")
    kind = models.CharField(max_length=32, choices=InquiryKind.choices)
    watermark = models.DateTimeField(_("수집 기준 시각"), null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_fetched = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "market_poll_cursor"
        constraints = [models.UniqueConstraint(fields=["account", "kind"], name="market_poll_cursor_unique")]
        verbose_name = _("수집 커서")
        verbose_name_plural = _("수집 커서")

    def __str__(self) -> str:
        return f"{self.account_id}:{self.kind}"


class MalformedPayload(models.Model):
    """A marketplace item that could not be parsed: kept verbatim, skipped by the poll."""

    account = models.ForeignKey(MarketAccount, on_delete=models.CASCADE, related_name="malformed_payloads")
    kind = models.CharField(max_length=32, choices=InquiryKind.choices)
    payload = models.TextField()
    error = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "market_malformed_payload"
        ordering = ["-received_at"]
        verbose_name = _("형식 오류 데이터")
        verbose_name_plural = _("형식 오류 데이터")

    def __str__(self) -> str:
        return f"{self.kind} @ {self.received_at:%Y-%m-%d %H:%M}"


class RateBucket(models.Model):
    """Token bucket shared by every worker process when no Redis is configured."""

    key = models.CharField(max_length=200, primary_key=True)
    tokens = models.FloatField(default=0)
    updated_at = models.FloatField(default=0)
    blocked_until = models.FloatField(default=0)

    class Meta:
        db_table = "market_rate_bucket"
        verbose_name = _("호출 한도 버킷")
        verbose_name_plural = _("호출 한도 버킷")

    def __str__(self) -> str:
        return self.key
