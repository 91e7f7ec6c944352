"""Runtime controls of the rollout: settings, phases, per-account state, quotas, business hours,
risk keywords, rollback rules and incidents, the readiness checklist and the rollout log."""

from inquiries.models import Mode  # the modes an account runs in; the policy's code reads them from here
from policy.models.risk import RiskKeyword, RiskScanHit, RiskScanState
from policy.models.rollback import (
    IntentWithdrawal,
    IntentWithdrawalQuerySet,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RollbackRule,
)
from policy.models.rollout import (
    AccountRollout,
    AutomationSettings,
    BusinessDayOverride,
    BusinessHoursRange,
    ChecklistItem,
    ConfigVersion,
    DailyQuotaUsage,
    RolloutEvent,
    RolloutPhase,
)

__all__ = [
    "AccountRollout",
    "AutomationSettings",
    "BusinessDayOverride",
    "BusinessHoursRange",
    "ChecklistItem",
    "ConfigVersion",
    "DailyQuotaUsage",
    "IntentWithdrawal",
    "IntentWithdrawalQuerySet",
    "Mode",
    "Notification",
    "NotificationChannel",
    "RiskKeyword",
    "RiskScanHit",
    "RiskScanState",
    "RollbackIncident",
    "RollbackRule",
    "RolloutEvent",
    "RolloutPhase",
]
