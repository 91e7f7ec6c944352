"""The configuration's version: every save or delete of a row the send path's gates are computed from
raises it, and a send sweep's cached controls are reloaded when it moved (and only then)."""

from __future__ import annotations

import datetime as dt

import pytest

from inquiries.models import Intent
from policy import config_version
from policy.models import AccountRollout, AutomationSettings, BusinessDayOverride, BusinessHoursRange, RolloutPhase
from policy.sending import _SweepSettings
from policy.services import SYSTEM, settings_update
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def raises(change) -> bool:
    before = config_version.current()
    change()
    return config_version.current() > before


def test_every_configuration_write_raises_it():
    account = make_account("coupang_main")
    rollout = AccountRollout.objects.get(account=account)
    phase = RolloutPhase.objects.order_by("number").first()
    assert phase is not None
    intent = Intent.objects.first()
    hours = BusinessHoursRange.objects.create(weekday=6, start=dt.time(10), end=dt.time(12))
    assert raises(lambda: BusinessHoursRange.objects.create(weekday=5, start=dt.time(10), end=dt.time(12)))
    assert raises(hours.delete)
    assert raises(lambda: BusinessDayOverride.objects.create(date=dt.date(2026, 12, 24), is_open=False))
    assert raises(lambda: phase.allowed_intents.add(intent))  # a phase's intents (many-to-many)
    assert raises(lambda: rollout.intents_override.add(intent))
    assert raises(lambda: rollout.save())
    assert raises(lambda: account.save())
    assert raises(lambda: settings_update(actor=SYSTEM, hours="mon-fri 09:00-18:00"))
    conf = AutomationSettings.get_solo()
    assert raises(conf.save)


@pytest.mark.postgres
def test_the_sweep_reloads_controls_when_and_only_when_the_version_moved():
    account = make_account("coupang_main")
    sweep = _SweepSettings()
    first = sweep.fresh({account.pk: account})[account.pk]
    assert sweep.fresh({account.pk: account})[account.pk] is first  # nothing changed: kept
    # an edit the fingerprint's own columns do not show: one business-hours row
    BusinessHoursRange.objects.create(weekday=6, start=dt.time(10), end=dt.time(12))
    reloaded = sweep.fresh({account.pk: account})[account.pk]
    assert reloaded is not first
    assert sweep.fresh({account.pk: account})[account.pk] is reloaded
