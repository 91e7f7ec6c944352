"""As a new user would: an account whose answers all fail at the marketplace is locked after its third
consecutive confirmed failure (an unknown outcome counts once reconciliation confirms it was not
delivered), `rollout status` says why, `readiness` exits 1, the on-call webhook hears about it once,
nothing more is sent for that account — and only a rollout manager with a reason unlocks it.

Everything goes over real HTTP: the sandbox marketplace and a webhook receiver, both on loopback."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import Inquiry
from policy.controls import load_account_controls
from policy.models import AccountRollout, Mode, Notification, NotificationChannel, RollbackIncident
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.policy.test_notify import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def send_due() -> str:
    return run("send_due")


def test_an_account_whose_answers_all_fail_is_locked_and_stays_locked(live, receiver, django_user_model):
    NotificationChannel.objects.create(kind="WEBHOOK", target=receiver.url)
    coupang, naver = live.coupang, live.naver
    live.sandbox.store.set_faults(scope="answers", down=True)  # every answer: 503

    # Three inquiries are due; each answer fails at the marketplace (503: it may have been applied).
    sent_to = []
    for n in range(1, 4):
        inquiry = live.inquiry(coupang)
        sent_to.append(inquiry)
        send_due()
        inquiry.refresh_from_db()
        assert inquiry.send_status == "SEND_UNKNOWN"
        assert AccountRollout.objects.get(account=coupang).consecutive_failures == n - 1  # not a failure yet
        # Reconciliation asks the marketplace: no answer there, so it was not delivered.
        assert "SEND_FAILED 1" in run("reconcile")
        rollout = AccountRollout.objects.get(account=coupang)
        assert rollout.consecutive_failures == n
        # locked at the third failure in a row — not before
        assert (rollout.locked_at is not None) == (n == 3)
    assert live.answers() == []

    # The every-minute monitor finds the incident already open: one incident, one lock.
    output = run("monitor")
    incident = RollbackIncident.objects.get()
    assert incident.rule.code == "consecutive-failures" and incident.account == coupang
    assert incident.figures["consecutive_failures"] == 3
    assert {f["outcome"] for f in incident.figures["last_failures"]} == {"FAILED_RETRYABLE"}
    assert {f["inquiry"] for f in incident.figures["last_failures"]} == {i.pk for i in sent_to}
    assert "새 사고 0건" in output
    assert AccountRollout.objects.get(account=coupang).locked_by == "system:monitor"

    # The on-call webhook heard about it, once.
    assert len(receiver.bodies) == 1
    assert receiver.bodies[0]["incident"]["id"] == incident.pk and "coupang_main" in receiver.bodies[0]["text"]
    assert Notification.objects.get().status == "SENT"
    run("monitor")
    assert len(receiver.bodies) == 1 and RollbackIncident.objects.count() == 1

    # `rollout status` shows why.
    status = run("rollout", "status")
    line = next(line for line in status.splitlines() if line.startswith("coupang_main"))
    assert " SHADOW " in line  # effective mode
    assert "롤백 규칙 '동일 계정에서 연속 3건 실패' 발동: 연속 전송 실패 3건" in line
    assert f"(사고 {incident.pk})" in line

    # `readiness` is not ready, and says so with exit code 1.
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("readiness", stdout=out)
    assert exc.value.code == 1
    assert (
        f"✗ 실패 열린 롤백 사고와 잠긴 계정: #{incident.pk} 동일 계정에서 연속 3건 실패 (coupang_main" in out.getvalue()
    )

    # The marketplace recovers, but nothing more is sent automatically for the locked account …
    live.sandbox.store.set_faults(scope="answers", down=False)
    held = live.inquiry(coupang)
    send_due()
    held.refresh_from_db()
    assert held.send_status == "NOT_SENT" and held.decision_mode == Mode.SHADOW  # a candidate for a person
    assert live.answers(held) == []
    # … while the healthy account still answers.
    other = live.inquiry(naver)
    send_due()
    other.refresh_from_db()
    assert other.send_status == "SENT" and len(live.answers(other)) == 1

    # Unlocking again takes a rollout manager and a reason.
    manager = django_user_model.objects.create_user("manager", password="pw-123456", is_staff=True)
    manager.groups.add(Group.objects.get(name=ROLE_ROLLOUT_MANAGER))
    agent = django_user_model.objects.create_user("agent", password="pw-123456", is_staff=True)
    agent.groups.add(Group.objects.get(name=ROLE_CS_AGENT))
    with pytest.raises(CommandError, match="rollout-manager role"):
        run("rollout", "--by", "agent", "unlock", "coupang_main", "--mode", "LIVE", "--reason", "looks fine")
    with pytest.raises(CommandError, match="사유가 필요합니다"):
        run("rollout", "--by", "manager", "unlock", "coupang_main", "--mode", "LIVE")
    assert load_account_controls(coupang).locked
    run("rollout", "--by", "manager", "unlock", "coupang_main", "--mode", "LIVE", "--reason", "marketplace outage over")
    controls = load_account_controls(coupang)
    assert not controls.locked and controls.effective_mode == Mode.LIVE
    assert AccountRollout.objects.get(account=coupang).consecutive_failures == 0

    # Back in business: the monitor does not re-lock on the old failures, and the next answer goes out.
    run("monitor")
    assert not load_account_controls(coupang).locked
    fresh = live.inquiry(coupang)
    send_due()
    fresh.refresh_from_db()
    assert fresh.send_status == "SENT" and len(live.answers(fresh)) == 1
    assert Inquiry.objects.filter(account=coupang, send_status="SENT").count() == 1
