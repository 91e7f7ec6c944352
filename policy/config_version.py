"""The configuration's version: one counter every configuration save or delete raises, so a process
that caches controls (the send sweep) knows with one read whether anything changed since it loaded them.

Raised by signals on the configuration models (admin saves, services, the ORM alike — a bulk
``QuerySet.update`` of one of their columns is read directly by the fingerprint instead) and by every
recorded configuration change (``services.config_change``).
"""

from __future__ import annotations

from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save

# The models whose rows the send path's gates are computed from.
CONFIG_MODELS = (
    "policy.AutomationSettings",
    "policy.BusinessHoursRange",
    "policy.BusinessDayOverride",
    "policy.RolloutPhase",
    "policy.AccountRollout",
    "policy.IntentWithdrawal",
    "markets.MarketAccount",
)
# Their many-to-many tables (the intents of a phase and an account's intent override).
CONFIG_M2M = (("policy.RolloutPhase", "allowed_intents"), ("policy.AccountRollout", "intents_override"))


def bump() -> None:
    """Raise the version (creating its row the first time), in the caller's transaction."""
    from policy.models import ConfigVersion

    if not ConfigVersion.objects.filter(pk=1).update(value=F("value") + 1):
        ConfigVersion.objects.get_or_create(pk=1)
        ConfigVersion.objects.filter(pk=1).update(value=F("value") + 1)


def current() -> int:
    from policy.models import ConfigVersion

    return ConfigVersion.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def _changed(**_kwargs) -> None:
    bump()


def connect() -> None:
    from django.apps import apps

    for label in CONFIG_MODELS:
        post_save.connect(_changed, sender=label, dispatch_uid=f"config-version-save-{label}")
        post_delete.connect(_changed, sender=label, dispatch_uid=f"config-version-delete-{label}")
    for label, field in CONFIG_M2M:
        through = getattr(apps.get_model(label), field).through
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"config-version-m2m-{label}-{field}")
