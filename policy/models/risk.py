"""Risk keywords, and how far the risk scan has read the AUTO_SEND decisions and what it found."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class RiskKeyword(models.Model):
    class Category(models.TextChoices):
        LEGAL = "LEGAL", _("법적 대응")
        REGULATOR = "REGULATOR", _("기관 신고")
        CLAIM = "CLAIM", _("클레임")
        SAFETY = "SAFETY", _("안전·건강")
        ABUSE = "ABUSE", _("욕설·폭언")
        PRIVACY = "PRIVACY", _("개인정보")
        THREAT = "THREAT", _("공개·협박")
        PAYMENT_DISPUTE = "PAYMENT_DISPUTE", _("결제 분쟁·차지백")
        FRAUD = "FRAUD", _("외부 거래·피싱")
        DELIVERY_LOSS = "DELIVERY_LOSS", _("분실·다른 곳 배송")
        # Not risks: requests only a person may grant. They send the inquiry to a person but never trip
        # the risk rollback rule.
        PRICE_NEGOTIATION = "PRICE_NEGOTIATION", _("사람만: 가격 협상")
        BULK_ORDER = "BULK_ORDER", _("사람만: 대량·도매 구매")
        CUSTOM_ORDER = "CUSTOM_ORDER", _("사람만: 맞춤 주문")
        PARTIAL_REFUND = "PARTIAL_REFUND", _("사람만: 부분 환불 금액")
        POLICY_EXCEPTION = "POLICY_EXCEPTION", _("사람만: 정책 예외")

    term = models.CharField(_("키워드"), max_length=60, unique=True)
    category = models.CharField(_("분류"), max_length=20, choices=Category.choices)
    variants = models.JSONField(
        _("변형"),
        default=list,
        blank=True,
        help_text=_(
            "함께 잡을 표현 목록. 띄어쓰기·조사는 자동으로 무시합니다. 're:'로 시작하면 정규식, '!'로 시작하면 "
            "제외 표현(예: '!고소한 맛')입니다. 키워드 끝의 '~'는 활용형만 잡는다는 뜻입니다(예: '고소~')."
        ),
    )
    notes = models.CharField(_("메모"), max_length=200, blank=True)
    is_active = models.BooleanField(_("사용"), default=True)
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_risk_keyword"
        ordering = ["category", "term"]
        verbose_name = _("위험 키워드")
        verbose_name_plural = _("위험 키워드")

    def __str__(self) -> str:
        return self.term


class RiskScanState(models.Model):
    """How far the risk-keyword rule has read the AUTO_SEND decisions (one row, pk 1): see ``policy.risk_scan``."""

    terms_fingerprint = models.CharField(
        _("키워드 목록 지문"), max_length=64, blank=True
    )  # the keyword list the state is for
    covered_from = models.DateTimeField(
        _("검사 시작 시각"), null=True
    )  # every decision decided since then is (being) read
    decided_until = models.DateTimeField(
        _("검사한 판정 시각"), null=True
    )  # decisions' own records read up to here (less the settle time)
    rescan_until = models.DateTimeField(
        _("재검사 대상 판정 시각"), null=True
    )  # decided before this: rescanned with the current keyword list
    rescanned_until = models.DateTimeField(
        _("재검사한 판정 시각"), null=True
    )  # the rescan has reached here (less the settle time)
    rescanned = models.JSONField(
        _("재검사한 문의"), default=dict
    )  # {inquiry id: decided_at} rescanned within the settle time
    updated_at = models.DateTimeField(_("갱신 시각"), auto_now=True)

    class Meta:
        db_table = "cs_risk_scan_state"
        verbose_name = _("위험 키워드 검사 진행")
        verbose_name_plural = _("위험 키워드 검사 진행")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="risk_scan_state_singleton")]

    def __str__(self) -> str:
        return f"risk scan up to {self.decided_until}"


class RiskScanHit(models.Model):
    """An AUTO_SEND decision whose text matches a risk keyword, found once by the risk scan."""

    inquiry = models.OneToOneField(
        "inquiries.Inquiry", verbose_name=_("문의"), on_delete=models.CASCADE, related_name="+"
    )
    decided_at = models.DateTimeField(
        _("판정 시각")
    )  # the decision that matched (a later decision of the inquiry is read anew)
    terms = models.JSONField(_("걸린 키워드"), default=list)
    found_at = models.DateTimeField(_("발견 시각"), default=timezone.now)

    class Meta:
        db_table = "cs_risk_scan_hit"
        verbose_name = _("위험 키워드 검사 적중")
        verbose_name_plural = _("위험 키워드 검사 적중")
        indexes = [models.Index(fields=["decided_at"], name="risk_scan_hit_decided_idx")]

    def __str__(self) -> str:
        return f"{self.inquiry_id}: {', '.join(self.terms)}"
