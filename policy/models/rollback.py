"""Rollback rules, the incidents they open and their notifications, and intents withdrawn from automation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from markets.models import MarketAccount


class RollbackRule(models.Model):
    class Metric(models.TextChoices):
        RISK_AUTO_SEND = "RISK_AUTO_SEND", _("위험 키워드 건이 AUTO_SEND로 판정")
        CONSECUTIVE_FAILURES = "CONSECUTIVE_FAILURES", _("계정 연속 실패 건수")
        FAILED_COUNT = "FAILED_COUNT", _("기간 내 SEND_FAILED 건수")
        ACCOUNT_FAILURE_RATE = "ACCOUNT_FAILURE_RATE", _("계정별 실패율")
        GLOBAL_FAILURE_RATE = "GLOBAL_FAILURE_RATE", _("전체 실패율")
        DAILY_FAILURE_RATE_STREAK = "DAILY_FAILURE_RATE_STREAK", _("일별 실패율 연속 초과")
        # The figure is the count of unknown outcomes older than the window (minutes) that are still not settled.
        UNSETTLED_UNKNOWN = "UNSETTLED_UNKNOWN", _("정산되지 않은 결과 불명 건수")
        # Per account and intent: the share of automatic answers a buyer complained about (inquiries.followups).
        INTENT_COMPLAINT_RATE = "INTENT_COMPLAINT_RATE", _("의도별 자동 답변 불만 재문의율")

    class Action(models.TextChoices):
        GLOBAL_TEST_MODE = "GLOBAL_TEST_MODE", _("전역 테스트 모드 (CS_TEST_MODE=true)")
        LOCK_ACCOUNT = "LOCK_ACCOUNT", _("해당 계정 해금 해제")
        SHADOW_MODE = "SHADOW_MODE", _("섀도 모드 복귀 (ENABLE_CS_PARTIAL_AUTO=false)")
        WITHDRAW_INTENT = "WITHDRAW_INTENT", _("해당 계정에서 그 의도만 자동화 중단 (사람이 답변)")

    RATE_METRICS = ("ACCOUNT_FAILURE_RATE", "GLOBAL_FAILURE_RATE", "DAILY_FAILURE_RATE_STREAK", "INTENT_COMPLAINT_RATE")

    code = models.SlugField(_("코드"), max_length=40, unique=True)
    name = models.CharField(_("이름"), max_length=120)
    metric = models.CharField(_("지표"), max_length=32, choices=Metric.choices)
    comparison = models.CharField(_("비교"), max_length=2, choices=[(">", ">"), (">=", ">=")], default=">=")
    threshold = models.FloatField(_("임계값"), help_text=_("건수 또는 비율(0~1)"))
    window_minutes = models.PositiveIntegerField(
        _("기간(분)"),
        default=60,
        help_text=_(
            "지금부터 거슬러 보는 기간. '정산되지 않은 결과 불명' 규칙에서는 결과 불명 건이 이 시간보다 오래 "
            "정산되지 않고 남아 있으면 셉니다."
        ),
    )
    streak_days = models.PositiveSmallIntegerField(_("연속 일수"), default=0)
    min_sample = models.PositiveIntegerField(_("최소 표본"), default=0)
    action = models.CharField(_("조치"), max_length=20, choices=Action.choices)
    enabled = models.BooleanField(_("사용"), default=True)
    dry_run = models.BooleanField(_("드라이런(보고만)"), default=False)
    severity = models.CharField(
        _("등급"),
        max_length=16,
        default="IMMEDIATE",
        choices=[("IMMEDIATE", _("즉시")), ("DAILY", _("24시간")), ("WEEKLY", _("7일"))],
    )
    description = models.CharField(_("설명"), max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_rollback_rule"
        ordering = ["id"]
        verbose_name = _("롤백 규칙")
        verbose_name_plural = _("롤백 규칙")
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0),
                name="rule_threshold_nonneg",
                violation_error_message=_("임계값은 0 이상이어야 합니다 (건수 또는 0~1의 비율)."),
            ),
            models.CheckConstraint(
                condition=~Q(
                    metric__in=[
                        "ACCOUNT_FAILURE_RATE",
                        "GLOBAL_FAILURE_RATE",
                        "DAILY_FAILURE_RATE_STREAK",
                        "INTENT_COMPLAINT_RATE",
                    ]
                )
                | Q(threshold__lte=1),
                name="rule_rate_threshold_0_1",
                violation_error_message=_("실패율 지표의 임계값은 0 이상 1 이하의 비율입니다 (예: 0.02 = 2퍼센트)."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RollbackIncident(models.Model):
    class Status(models.TextChoices):
        OPEN = "OPEN", _("발생")
        ACKNOWLEDGED = "ACKNOWLEDGED", _("확인함")
        RESOLVED = "RESOLVED", _("해결됨")

    rule = models.ForeignKey(RollbackRule, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("규칙"))
    account = models.ForeignKey(MarketAccount, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("계정"))
    # "global" or the account id (plus ":intent" for an intent rule): one open incident per rule and scope,
    # whatever the database's NULL rules.
    scope_key = models.CharField(_("범위"), max_length=120, editable=False)
    status = models.CharField(_("상태"), max_length=16, choices=Status.choices, default=Status.OPEN)
    fired_at = models.DateTimeField(_("발생 시각"), default=timezone.now)
    figures = models.JSONField(_("수치"), default=dict)
    action_taken = models.CharField(_("수행한 조치"), max_length=300, blank=True)
    dry_run = models.BooleanField(_("드라이런"), default=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("확인한 사람"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(_("확인 시각"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("해결한 사람"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("해결 시각"), null=True, blank=True)
    resolution_note = models.TextField(_("해결 메모"), blank=True)

    class Meta:
        db_table = "cs_rollback_incident"
        ordering = ["-fired_at"]
        verbose_name = _("롤백 사고")
        verbose_name_plural = _("롤백 사고")
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "scope_key"],
                condition=Q(status__in=["OPEN", "ACKNOWLEDGED"]),
                name="incident_one_open_per_rule_scope",
            )
        ]
        indexes = [models.Index(fields=["status", "-fired_at"], name="incident_status_idx")]

    def __str__(self) -> str:
        return f"{self.rule} ({self.scope_key})"


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "EMAIL", _("이메일")
        WEBHOOK = "WEBHOOK", _("웹훅 (Slack 호환)")

    kind = models.CharField(_("종류"), max_length=8, choices=Kind.choices)
    target = models.CharField(_("받는 곳"), max_length=500, help_text=_("이메일 주소 또는 웹훅 URL"))
    is_active = models.BooleanField(_("사용"), default=True)
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_notification_channel"
        verbose_name = _("알림 채널")
        verbose_name_plural = _("알림 채널")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}"


class Notification(models.Model):
    """An outbox row per incident and channel: retried until delivered, never blocking the rollback."""

    class Status(models.TextChoices):
        PENDING = "PENDING", _("대기")
        SENT = "SENT", _("발송됨")
        FAILED = "FAILED", _("실패")

    incident = models.ForeignKey(
        RollbackIncident, verbose_name=_("사고"), on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.ForeignKey(
        NotificationChannel, verbose_name=_("채널"), on_delete=models.CASCADE, related_name="notifications"
    )
    status = models.CharField(_("상태"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("시도 횟수"), default=0)
    last_error = models.CharField(_("마지막 오류"), max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(_("다음 시도 시각"), default=timezone.now)
    sent_at = models.DateTimeField(_("전송 시각"), null=True, blank=True)

    class Meta:
        db_table = "cs_notification"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]
        verbose_name = _("알림 발송")
        verbose_name_plural = _("알림 발송")

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.channel_id}: {self.status}"


class IntentWithdrawalQuerySet(models.QuerySet["IntentWithdrawal"]):
    def active(self) -> IntentWithdrawalQuerySet:
        return self.filter(restored_at__isnull=True)


class IntentWithdrawal(models.Model):
    """One intent taken out of automation for one account (its answers go to a person), by the
    complaint follow-up rule or a person, until a rollout manager restores it — with who and why."""

    account = models.ForeignKey(
        MarketAccount, on_delete=models.CASCADE, related_name="intent_withdrawals", verbose_name=_("계정")
    )
    intent = models.CharField(_("의도"), max_length=32)
    withdrawn_at = models.DateTimeField(_("중단 시각"), default=timezone.now)
    withdrawn_by = models.CharField(_("중단 주체"), max_length=64)
    reason = models.CharField(_("중단 사유"), max_length=300)
    incident = models.ForeignKey(
        RollbackIncident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("사고")
    )
    restored_at = models.DateTimeField(_("복구 시각"), null=True, blank=True)
    restored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("복구한 사람"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    restored_by_label = models.CharField(_("복구 주체"), max_length=64, blank=True)
    restore_reason = models.CharField(_("복구 사유"), max_length=300, blank=True)

    objects = IntentWithdrawalQuerySet.as_manager()

    class Meta:
        db_table = "cs_intent_withdrawal"
        ordering = ["-withdrawn_at", "-id"]
        verbose_name = _("의도 자동화 중단")
        verbose_name_plural = _("의도 자동화 중단")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "intent"],
                condition=Q(restored_at__isnull=True),
                name="intent_withdrawal_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} / {self.intent}"
