"""The rollout's controls and record: the global settings, business hours, phases, per-account state,
the configuration version, daily quota use, the final-approval checklist and the rollout log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from inquiries.models import Mode
from markets.models import MarketAccount


class AutomationSettings(models.Model):
    """The one row of global switches (pk is always 1)."""

    class Backend(models.TextChoices):
        RULES = "rules", _("규칙 기반 (오프라인)")
        LLM = "llm", _("LLM (OpenAI 호환)")

    partial_auto_enabled = models.BooleanField(
        _("부분 자동화 스위치"),
        default=False,
        help_text=_("끄면 모든 계정이 섀도 모드로 동작합니다 (ENABLE_CS_PARTIAL_AUTO)."),
    )
    test_mode = models.BooleanField(
        _("전역 테스트 모드"), default=True, help_text=_("켜면 실제 마켓으로 전송하지 않습니다 (CS_TEST_MODE).")
    )
    auto_send_threshold = models.FloatField(_("자동 전송 신뢰도 임계값"), default=0.90)
    business_hours_enabled = models.BooleanField(
        _("영업시간에만 자동 전송"), default=True, help_text=_("끄면 언제든 전송합니다 (always).")
    )
    observe_public_holidays = models.BooleanField(_("한국 공휴일 휴무"), default=True)
    agent_backend = models.CharField(_("AI 백엔드"), max_length=8, choices=Backend.choices, default=Backend.RULES)
    max_send_attempts = models.PositiveSmallIntegerField(_("최대 전송 시도"), default=3)
    lease_seconds = models.PositiveIntegerField(_("전송 임대 시간(초)"), default=120)
    emergency_stopped_at = models.DateTimeField(_("긴급 정지 시각"), null=True, blank=True)
    emergency_reason = models.CharField(_("긴급 정지 사유"), max_length=300, blank=True)
    last_monitor_run_at = models.DateTimeField(_("마지막 모니터 실행"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)
    # The monitor's heartbeat is written with .update() every minute and is not configuration.
    history = HistoricalRecords(excluded_fields=["last_monitor_run_at"])

    class Meta:
        db_table = "cs_automation_settings"
        verbose_name = _("자동화 설정")
        verbose_name_plural = _("자동화 설정")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="settings_singleton"),
            models.CheckConstraint(
                condition=Q(auto_send_threshold__gte=0, auto_send_threshold__lte=1),
                name="settings_threshold_0_1",
                violation_error_message=_("자동 전송 신뢰도 임계값은 0 이상 1 이하의 숫자여야 합니다 (예: 0.90)."),
            ),
            models.CheckConstraint(
                condition=Q(max_send_attempts__gte=1),
                name="settings_max_attempts_pos",
                violation_error_message=_("최대 전송 시도는 1 이상이어야 합니다 (1이면 재시도하지 않습니다)."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("자동화 설정"))

    @classmethod
    def get_solo(cls) -> AutomationSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class BusinessHoursRange(models.Model):
    """A weekly opening range in Asia/Seoul (weekday 0 = Monday)."""

    class Weekday(models.IntegerChoices):
        MON = 0, _("월")
        TUE = 1, _("화")
        WED = 2, _("수")
        THU = 3, _("목")
        FRI = 4, _("금")
        SAT = 5, _("토")
        SUN = 6, _("일")

    weekday = models.PositiveSmallIntegerField(_("요일"), choices=Weekday.choices)
    start = models.TimeField(_("시작"))
    end = models.TimeField(_("종료"))
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_business_hours"
        ordering = ["weekday", "start"]
        verbose_name = _("영업시간")
        verbose_name_plural = _("영업시간")
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=models.F("end")),
                name="hours_start_before_end",
                violation_error_message=_(
                    "시작 시각은 종료 시각보다 빨라야 합니다 (예: 09:00-18:00). 자정을 넘는 영업은 "
                    "두 요일의 범위로 나눠 입력하세요."
                ),
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="hours_weekday_range",
                violation_error_message=_("요일은 월요일(0)부터 일요일(6) 중 하나여야 합니다."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class BusinessDayOverride(models.Model):
    """A date that differs from the weekly hours: an extra day off, or special hours."""

    date = models.DateField(_("날짜"), unique=True)
    is_open = models.BooleanField(_("영업"), default=False)
    start = models.TimeField(_("시작"), null=True, blank=True)
    end = models.TimeField(_("종료"), null=True, blank=True)
    note = models.CharField(_("메모"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_business_day_override"
        ordering = ["-date"]
        verbose_name = _("특정일 영업 예외")
        verbose_name_plural = _("특정일 영업 예외")
        constraints = [
            models.CheckConstraint(
                condition=Q(is_open=False) | Q(start__isnull=False, end__isnull=False, start__lt=models.F("end")),
                name="override_open_has_hours",
                violation_error_message=_(
                    "영업하는 날로 표시하면 시작과 종료 시각을 모두 입력해야 하고, 시작이 종료보다 "
                    "빨라야 합니다. 휴무일이면 '영업'을 선택하지 마세요."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {_('영업') if self.is_open else _('휴무')}"


class RolloutPhase(models.Model):
    number = models.PositiveSmallIntegerField(_("단계 번호"), unique=True)
    name = models.CharField(_("이름"), max_length=40, unique=True)
    all_intents = models.BooleanField(_("모든 의도 허용"), default=False)
    allowed_intents = models.ManyToManyField(
        "inquiries.Intent", blank=True, related_name="phases", verbose_name=_("허용 의도")
    )
    daily_quota = models.PositiveIntegerField(
        _("일일 전송 한도"), null=True, blank=True, help_text=_("비우면 한도 없음")
    )
    description = models.CharField(_("설명"), max_length=300, blank=True)
    history = HistoricalRecords(m2m_fields=[allowed_intents])

    class Meta:
        db_table = "cs_rollout_phase"
        ordering = ["number"]
        verbose_name = _("해금 단계")
        verbose_name_plural = _("해금 단계")

    def __str__(self) -> str:
        return self.name


class AccountRollout(models.Model):
    """Per-account rollout state: mode, phase, optional overrides, and a lock set by people or rules."""

    account = models.OneToOneField(
        MarketAccount, on_delete=models.CASCADE, related_name="rollout", verbose_name=_("계정")
    )
    mode = models.CharField(_("모드"), max_length=8, choices=Mode.choices, default=Mode.SHADOW)
    phase = models.ForeignKey(RolloutPhase, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("단계"))
    intents_override = models.ManyToManyField(
        "inquiries.Intent",
        blank=True,
        related_name="+",
        verbose_name=_("의도 제한(선택)"),
        help_text=_("지정하면 단계의 허용 의도와 겹치는 의도만 자동 전송합니다."),
    )
    quota_override = models.PositiveIntegerField(_("일일 한도 재지정"), null=True, blank=True)
    threshold_override = models.FloatField(_("임계값 재지정"), null=True, blank=True)
    locked_at = models.DateTimeField(_("잠금 시각"), null=True, blank=True)
    lock_reason = models.CharField(_("잠금 사유"), max_length=300, blank=True)
    locked_by = models.CharField(_("잠금 주체"), max_length=64, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("연속 실패"), default=0)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)
    history = HistoricalRecords(m2m_fields=[intents_override])

    class Meta:
        db_table = "cs_account_rollout"
        ordering = ["account__name"]
        verbose_name = _("계정별 해금 상태")
        verbose_name_plural = _("계정별 해금 상태")
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold_override__isnull=True) | Q(threshold_override__gte=0, threshold_override__lte=1),
                name="rollout_threshold_0_1",
                violation_error_message=_(
                    "임계값 재지정은 비워 두거나(전역 임계값 사용) 0 이상 1 이하의 숫자여야 합니다."
                ),
            ),
        ]
        permissions = [
            ("unlock_account", _("계정 해금/잠금과 단계 변경")),
            ("emergency_stop", _("긴급 정지와 재개")),
        ]

    def __str__(self) -> str:
        return f"{self.account.name}: {self.mode}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class ConfigVersion(models.Model):
    """One row, one number: raised by every save or delete of the rollout's configuration (settings,
    business hours and day overrides, phases and their intents, account rollouts and their intents,
    marketplace accounts, intent withdrawals; ``policy.config_version``). The send path compares it
    with the one its loaded controls were read at, instead of reading each table's history."""

    value = models.PositiveBigIntegerField(_("설정 버전"), default=0)

    class Meta:
        db_table = "cs_config_version"
        verbose_name = _("설정 버전")
        verbose_name_plural = _("설정 버전")

    def __str__(self) -> str:
        return str(self.value)


class DailyQuotaUsage(models.Model):
    """Sends claimed per account per Asia/Seoul day; consumed atomically with a conditional UPDATE."""

    account = models.ForeignKey(
        MarketAccount, verbose_name=_("계정"), on_delete=models.CASCADE, related_name="quota_usage"
    )
    day = models.DateField(_("날짜"))
    used = models.PositiveIntegerField(_("사용량"), default=0)

    class Meta:
        db_table = "cs_daily_quota_usage"
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="quota_usage_unique"),
            models.CheckConstraint(condition=Q(used__gte=0), name="quota_used_nonneg"),
        ]
        verbose_name = _("일일 한도 사용량")
        verbose_name_plural = _("일일 한도 사용량")

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.used}"


class ChecklistItem(models.Model):
    """The guide's phase 5 final-approval checklist; manual items are ticked in the admin."""

    code = models.SlugField(_("코드"), max_length=40, unique=True)
    title = models.CharField(_("항목"), max_length=200)
    is_automatic = models.BooleanField(_("자동 확인"), default=False)
    checked = models.BooleanField(_("완료"), default=False)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("확인자"),
    )
    checked_at = models.DateTimeField(_("확인 시각"), null=True, blank=True)
    note = models.CharField(_("메모"), max_length=300, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("순서"), default=0)
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_checklist_item"
        ordering = ["sort_order"]
        verbose_name = _("최종 승인 체크리스트")
        verbose_name_plural = _("최종 승인 체크리스트")

    def __str__(self) -> str:
        return self.title


class RolloutEvent(models.Model):
    """Who changed the rollout, when and why: commands, admin actions and automatic rollbacks."""

    class Action(models.TextChoices):
        UNLOCK = "UNLOCK", _("해금")
        LOCK = "LOCK", _("잠금")
        MODE = "MODE", _("모드 변경")
        PHASE = "PHASE", _("단계 변경")
        EMERGENCY_STOP = "EMERGENCY_STOP", _("긴급 정지")
        RESUME = "RESUME", _("재개")
        SETTINGS = "SETTINGS", _("설정 변경")
        CONFIG = "CONFIG", _("구성 변경")
        IMPORT_ENV = "IMPORT_ENV", _("환경변수 가져오기")
        AUTO_ROLLBACK = "AUTO_ROLLBACK", _("자동 롤백")
        RESTORE_INTENT = "RESTORE_INTENT", _("의도 자동화 복구")

    at = models.DateTimeField(_("시각"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("사람"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("행위자"), max_length=64)
    action = models.CharField(_("작업"), max_length=16, choices=Action.choices)
    account = models.ForeignKey(MarketAccount, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("계정"))
    reason = models.CharField(_("사유"), max_length=300, blank=True)
    data = models.JSONField(_("변경 내용"), default=dict, blank=True)

    class Meta:
        db_table = "cs_rollout_event"
        ordering = ["-at", "-id"]
        verbose_name = _("해금 변경 기록")
        verbose_name_plural = _("해금 변경 기록")

    def __str__(self) -> str:
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M} {self.get_action_display()} {self.actor_label}"
