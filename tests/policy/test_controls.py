"""The environment can only tighten what the database says (DESIGN §1.4)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from policy.controls import load_account_controls
from policy.models import Mode
from policy.services import (
    SYSTEM,
    emergency_stop,
    get_phase,
    import_env,
    resume,
    rollout_lock,
    rollout_unlock,
    settings_update,
)
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def live():
    account = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(1), actor=SYSTEM)
    return account


def mode(account):
    return load_account_controls(account).effective_mode


def test_live_by_default_when_unlocked(live):
    assert mode(live) == Mode.LIVE


@override_settings(CS_ENV_TEST_MODE=True)
def test_env_test_mode_true__forces_test(live):
    assert mode(live) == Mode.TEST


@override_settings(CS_ENV_TEST_MODE=False)
def test_env_test_mode_false__cannot_loosen_database_test_mode(live):
    settings_update(actor=SYSTEM, test_mode=True)
    assert mode(live) == Mode.TEST


@override_settings(CS_ENV_ENABLE_PARTIAL_AUTO=False)
def test_env_partial_auto_false__forces_shadow(live):
    assert mode(live) == Mode.SHADOW


@override_settings(CS_ENV_ENABLE_PARTIAL_AUTO=True)
def test_env_partial_auto_true__cannot_turn_the_switch_on(live):
    settings_update(actor=SYSTEM, partial_auto=False)
    assert mode(live) == Mode.SHADOW


@override_settings(CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS="coupang_sub")
def test_env_allowed_accounts__others_in_test_mode(live):
    assert mode(live) == Mode.TEST
    assert "허용 목록(CS_TEST_MODE_ALLOWED_ACCOUNTS)에 없음" in "; ".join(load_account_controls(live).mode_reasons)


@override_settings(CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS="")
def test_env_allowed_accounts_empty__everyone(live):
    assert mode(live) == Mode.LIVE


@override_settings(CS_ENV_AUTO_SEND_THRESHOLD=0.97)
def test_env_threshold__only_raises(live):
    assert load_account_controls(live).threshold == 0.97


@override_settings(CS_ENV_AUTO_SEND_THRESHOLD=0.5)
def test_env_threshold__never_lowers(live):
    assert load_account_controls(live).threshold == 0.90


def test_lock__back_to_shadow_and_unlock_needs_reason(live):
    from policy.services import RolloutError

    rollout_lock(account=live, reason="3 consecutive failures", actor=SYSTEM)
    assert mode(live) == Mode.SHADOW
    with pytest.raises(RolloutError, match="다시 해금하려면 사유가 필요합니다"):
        rollout_unlock(account=live, mode=Mode.LIVE, phase=None, actor=SYSTEM)
    rollout_unlock(account=live, mode=Mode.LIVE, phase=None, actor=SYSTEM, reason="fixed the credentials")
    assert mode(live) == Mode.LIVE


def test_emergency_stop__test_mode_for_everyone_and_humans_too(live):
    emergency_stop(reason="wrong answers", actor=SYSTEM)
    c = load_account_controls(live)
    assert c.effective_mode == Mode.TEST and c.send_mode("APPROVED") == Mode.TEST
    resume(actor=SYSTEM)
    assert mode(live) == Mode.TEST  # test mode stays on until someone turns it off
    settings_update(actor=SYSTEM, test_mode=False)
    assert mode(live) == Mode.LIVE


def test_import_env__maps_the_guides_four_variables(live):
    other = make_account("coupang_sub")
    result = import_env(
        actor=SYSTEM,
        environ={
            "ENABLE_CS_PARTIAL_AUTO": "true",
            "CS_TEST_MODE": "false",
            "CS_TEST_MODE_ALLOWED_ACCOUNTS": f"{other.id}",
            "CS_AUTO_SEND_THRESHOLD": "0.92",
        },
    )
    assert result["live_accounts"] == ["coupang_sub"]
    assert mode(other) == Mode.LIVE
    assert mode(live) == Mode.TEST  # was LIVE, not in the list
    assert load_account_controls(other).threshold == 0.92


def test_import_env__refuses_unknown_accounts_and_bad_values(live):
    from policy.services import RolloutError

    with pytest.raises(RolloutError, match="없는 계정"):
        import_env(actor=SYSTEM, environ={"CS_TEST_MODE_ALLOWED_ACCOUNTS": "nope"})
    with pytest.raises(RolloutError, match="true/false가 아닙니다"):
        import_env(actor=SYSTEM, environ={"CS_TEST_MODE": "maybe"})
