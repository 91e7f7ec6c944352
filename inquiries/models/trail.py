"""What happened to an inquiry after it came in: its event trail, its send attempts, and the follow-ups
that link a buyer's new inquiry to one that was answered."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inquiries.models.inquiry import Inquiry
from markets.models import MarketAccount, MarketCode


class InquiryEvent(models.Model):
    """Every state change of an inquiry, with who (a person or a system actor) and when."""

    class Type(models.TextChoices):
        INGESTED = "INGESTED", _("수집")
        DECIDED = "DECIDED", _("판정")
        DEFERRED = "DEFERRED", _("영업시간 밖 보류")
        CLAIMED = "CLAIMED", _("전송 선점")
        SENT = "SENT", _("전송 완료")
        SEND_FAILED = "SEND_FAILED", _("전송 실패")
        SEND_UNKNOWN = "SEND_UNKNOWN", _("전송 결과 불명")
        TEST_MODE = "TEST_MODE", _("테스트 모드 차단")
        BLOCKED = "BLOCKED", _("전송 전 재검사 차단")
        RECONCILED = "RECONCILED", _("마켓 확인")
        ESCALATED = "ESCALATED", _("사람에게 넘김")
        APPROVED = "APPROVED", _("승인")
        CLOSED = "CLOSED", _("종료")
        ANSWERED_ELSEWHERE = "ANSWERED_ELSEWHERE", _("외부 답변 확인")
        EDITED = "EDITED", _("수정")
        FOLLOW_UP = "FOLLOW_UP", _("재문의 연결")

    inquiry = models.ForeignKey(Inquiry, verbose_name=_("문의"), on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("종류"), max_length=24, choices=Type.choices)
    at = models.DateTimeField(_("시각"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("사람"),
    )
    actor_label = models.CharField(
        _("행위자"), max_length=64, help_text=_("사람이면 사용자 이름, 아니면 system:worker 같은 시스템 이름")
    )
    from_status = models.CharField(_("이전 상태"), max_length=24, blank=True)
    to_status = models.CharField(_("바뀐 상태"), max_length=24, blank=True)
    from_send_status = models.CharField(_("이전 전송 상태"), max_length=16, blank=True)
    to_send_status = models.CharField(_("바뀐 전송 상태"), max_length=16, blank=True)
    message = models.CharField(_("내용"), max_length=500, blank=True)
    data = models.JSONField(_("세부 내용"), default=dict, blank=True)

    class Meta:
        db_table = "market_inquiry_event"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["inquiry", "at"], name="inquiry_event_inquiry_at")]
        verbose_name = _("문의 이력")
        verbose_name_plural = _("문의 이력")

    def __str__(self) -> str:
        return f"{self.get_type_display()} {timezone.localtime(self.at):%Y-%m-%d %H:%M:%S}"


class SendAttempt(models.Model):
    """One claimed send: the ground truth the monitor's failure rules read (test-mode rows flagged)."""

    class Outcome(models.TextChoices):
        PENDING = "PENDING", _("진행 중")
        DELIVERED = "DELIVERED", _("전송됨")
        FAILED_RETRYABLE = "FAILED_RETRYABLE", _("실패(재시도)")
        FAILED_PERMANENT = "FAILED_PERMANENT", _("실패(영구)")
        ALREADY_ANSWERED = "ALREADY_ANSWERED", _("이미 답변됨")
        AUTH_ERROR = "AUTH_ERROR", _("인증 오류")
        RATE_LIMITED = "RATE_LIMITED", _("호출 한도")
        UNKNOWN = "UNKNOWN", _("결과 불명")
        TEST_MODE = "TEST_MODE", _("테스트 모드")
        BLOCKED = "BLOCKED", _("재검사 차단")

    # Confirmed failures. An UNKNOWN outcome is not one until reconciliation asks the marketplace: it then
    # becomes DELIVERED, FAILED_RETRYABLE (confirmed not delivered) or ALREADY_ANSWERED.
    FAILURES = ("FAILED_RETRYABLE", "FAILED_PERMANENT", "AUTH_ERROR")

    inquiry = models.ForeignKey(
        Inquiry, verbose_name=_("문의"), on_delete=models.CASCADE, related_name="send_attempt_log"
    )
    account = models.ForeignKey(
        MarketAccount, verbose_name=_("계정"), on_delete=models.CASCADE, related_name="send_attempts"
    )
    market_code = models.CharField(_("마켓"), max_length=16, choices=MarketCode.choices)
    attempt_no = models.PositiveIntegerField(_("시도 번호"))
    claim_token = models.UUIDField(_("전송 점유 토큰"))
    outcome = models.CharField(_("결과"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    http_status = models.PositiveSmallIntegerField(_("HTTP 상태 코드"), null=True, blank=True)
    error = models.TextField(_("오류"), blank=True)
    is_test_mode = models.BooleanField(_("테스트 모드"), default=False)
    started_at = models.DateTimeField(_("시작 시각"), default=timezone.now)
    finished_at = models.DateTimeField(_("종료 시각"), null=True, blank=True)

    class Meta:
        db_table = "market_send_attempt"
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="send_attempt_started_idx"),
            models.Index(fields=["account", "-started_at"], name="send_attempt_account_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["claim_token"], name="send_attempt_claim_unique")]
        verbose_name = _("전송 시도")
        verbose_name_plural = _("전송 시도")

    def __str__(self) -> str:
        return f"{self.inquiry_id}#{self.attempt_no} {self.outcome}"


class FollowUp(models.Model):
    """A buyer wrote again about an inquiry that was answered: the new inquiry, the answered one, how they
    were linked and what the new one says about the answer (``inquiries.followups``)."""

    class Kind(models.TextChoices):
        REPEAT = "REPEAT", _("같은 질문 반복")
        COMPLAINT = "COMPLAINT", _("답변 불만")
        NEW_TOPIC = "NEW_TOPIC", _("새 주제")

    class LinkedBy(models.TextChoices):
        ORDER = "ORDER", _("같은 주문")
        BUYER = "BUYER", _("같은 구매자")
        PRODUCT_TEXT = "PRODUCT_TEXT", _("같은 상품·거의 같은 질문")

    class Path(models.TextChoices):
        AUTO = "AUTO", _("자동 답변")
        HUMAN = "HUMAN", _("사람 답변")

    inquiry = models.OneToOneField(
        Inquiry, on_delete=models.CASCADE, related_name="follow_up_of", verbose_name=_("재문의")
    )
    earlier = models.ForeignKey(
        Inquiry, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("먼저 답한 문의")
    )
    account = models.ForeignKey(MarketAccount, on_delete=models.CASCADE, related_name="+", verbose_name=_("계정"))
    kind = models.CharField(_("분류"), max_length=12, choices=Kind.choices)
    linked_by = models.CharField(_("연결 근거"), max_length=16, choices=LinkedBy.choices)
    path = models.CharField(_("먼저 한 답변"), max_length=8, choices=Path.choices)
    intent = models.CharField(_("먼저 한 답변의 의도"), max_length=32, blank=True)
    answered_at = models.DateTimeField(_("먼저 답한 시각"))
    asked_at = models.DateTimeField(_("재문의 시각"))
    similarity = models.FloatField(_("질문 유사도"), default=0.0)
    evidence = models.JSONField(_("분류 근거"), default=dict, blank=True)
    created_at = models.DateTimeField(_("연결 시각"), auto_now_add=True)

    class Meta:
        db_table = "cs_inquiry_follow_up"
        ordering = ["-asked_at"]
        verbose_name = _("재문의")
        verbose_name_plural = _("재문의")
        indexes = [
            models.Index(fields=["answered_at"], name="follow_up_answered_idx"),
            models.Index(fields=["account", "intent", "answered_at"], name="follow_up_acct_intent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.earlier_id} → {self.inquiry_id} ({self.kind})"
