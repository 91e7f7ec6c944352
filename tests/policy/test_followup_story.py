"""As a new user would: a sandbox whose buyers write again after 30 % of the answers to 배송문의
(`market_sandbox --follow-up-share 0.3 --follow-up-intents 배송문의`), coupang_main unlocked LIVE,
`sync_orders`, `poll_markets`, `process_inquiries`, `send_due`, then polling again: `kpi --format json`
shows the follow-up figures per account and intent, the monitor withdraws 배송문의 from automation for
coupang_main with an incident and a notification, the next 배송문의 goes to a person, readiness says
phase 5 is not ready because of it, and only a rollout manager with a reason restores it — recorded with
who and why. Everything goes over real HTTP to the sandbox process on loopback."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import FollowUp, Inquiry
from markets.sandbox.control import SandboxControl
from policy.models import (
    AccountRollout,
    IntentWithdrawal,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RolloutEvent,
)
from policy.roles import ROLE_ROLLOUT_MANAGER
from tests.factories import make_staff
from tests.markets.sandbox_process import ROOT, flags_for, running_sandbox

pytestmark = pytest.mark.django_db
EXAMPLES = ROOT / "docs" / "examples"


def call(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def banner_vendor(banner: str) -> str:
    flags = flags_for(banner, "COUPANG")
    return flags[flags.index("--vendor-id") + 1]


@pytest.fixture
def sandbox_process():
    with running_sandbox(
        "--seed-inquiries", "40", "--seed", "20261201", "--follow-up-share", "0.3", "--follow-up-intents", "배송문의"
    ) as (_proc, banner, url):
        yield banner, url


def test_complaints_after_automatic_answers_withdraw_the_intent(sandbox_process, django_user_model):
    banner, url = sandbox_process
    assert SandboxControl(url).follow_ups()["share"] == 0.3
    call("market_account", "add", "--name", "coupang_main", "--market", "COUPANG", *flags_for(banner, "COUPANG"))
    call("shipping_policy", "import", str(EXAMPLES / "shipping-policy.json"), "--account", "coupang_main")
    call("product_knowledge", "import", str(EXAMPLES / "product-knowledge.json"))
    call("rollout", "settings", "--partial-auto", "on", "--test-mode", "off", "--hours", "always", "--reason", "t")
    call("rollout", "unlock", "coupang_main", "--mode", "LIVE", "--phase", "1", "--reason", "phase 1")
    AccountRollout.objects.update(quota_override=1000)
    NotificationChannel.objects.create(kind="EMAIL", target="oncall@example.com")

    call("sync_orders")
    call("poll_markets")
    call("process_inquiries")
    call("send_due")
    auto = Inquiry.objects.filter(status="AUTO_SEND", send_status="SENT", intent="배송문의")
    assert auto.count() >= 10, "the story needs the rule's minimum sample of automatic 배송문의 answers"

    # The buyers' follow-ups arrive with the next poll and are linked to the answers they follow.
    call("poll_markets")
    follow_ups = FollowUp.objects.filter(path="AUTO", intent="배송문의")
    answered = auto.count()
    made = SandboxControl(url).follow_ups()["follow_ups_made"]
    assert made >= 3 and FollowUp.objects.count() == made  # every buyer who wrote again was linked
    assert set(follow_ups.values_list("linked_by", flat=True)) <= {"ORDER", "PRODUCT_TEXT"}
    complaints = follow_ups.filter(kind="COMPLAINT").count()
    assert complaints >= 0.2 * answered
    call("process_inquiries")

    report = json.loads(call("kpi", "--window", "24h", "--format", "json"))
    row = next(
        r
        for r in report["follow_up"]["by_account_intent"]
        if r["account"] == "coupang_main" and r["intent"] == "배송문의" and r["path"] == "AUTO"
    )
    assert row["answers"] == answered and row["follow_ups"] == follow_ups.count() and row["complaints"] == complaints
    assert row["complaint_rate"] == round(complaints / answered * 100, 2)
    assert {p["path"] for p in report["follow_up"]["by_path"]} == {"AUTO", "HUMAN"}

    # The monitor withdraws 배송문의 for coupang_main — the account stays unlocked for the other intents.
    output = call("monitor")
    incident = RollbackIncident.objects.get(rule__code="intent-complaint-rate")
    assert incident.account.name == "coupang_main" and incident.figures["intent"] == "배송문의"
    assert incident.figures["complaints"] == complaints and len(incident.figures["inquiries"]) == complaints
    assert "배송문의" in incident.action_taken and "배송문의" in output
    withdrawal = IntentWithdrawal.objects.active().get()
    assert (withdrawal.account.name, withdrawal.intent, withdrawal.incident_id) == (
        "coupang_main",
        "배송문의",
        incident.pk,
    )
    assert Notification.objects.filter(incident=incident).count() == 1
    assert AccountRollout.objects.get(account__name="coupang_main").locked_at is None
    call("monitor")
    assert RollbackIncident.objects.filter(rule__code="intent-complaint-rate").count() == 1

    # The next 배송문의 goes to a person, with the reason.
    control = SandboxControl(url)
    spec = {"intent": "배송문의", "scenario": "shipped", "days_back": 0.01}
    control.add_inquiries("COUPANG_ONLINE", items=[spec] * 6, owner=banner_vendor(banner))
    call("poll_markets")
    call("process_inquiries")
    fresh = Inquiry.objects.filter(intent="배송문의", status="NEW").count()
    assert fresh == 0
    withdrawn = Inquiry.objects.filter(decision_trace__policy__reason_code="INTENT_WITHDRAWN")
    assert withdrawn.exists() and set(withdrawn.values_list("status", flat=True)) == {"HUMAN_REVIEW"}
    status = json.loads(call("rollout", "status", "--format", "json"))
    assert status["accounts"][0]["withdrawn_intents"] == ["배송문의"]

    # Readiness: phase 5's "고객 불만족 레포트 0건" is measured, and not ready.
    with pytest.raises(SystemExit):
        call("readiness", "--format", "json")
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("readiness", "--format", "json", stdout=out)
    check = next(c for c in json.loads(out.getvalue())["checks"] if c["code"] == "customer-complaints")
    assert check["section"] == "phase5" and check["status"] == "fail"
    assert "coupang_main/배송문의" in check["detail"]

    # Restoring needs a rollout manager and a reason; it is recorded with who and why.
    with pytest.raises(CommandError):
        call("rollout", "restore-intent", "coupang_main", "배송문의", "--reason", "no manager")
    manager = make_staff(django_user_model, "kim-lead", ROLE_ROLLOUT_MANAGER)
    call(
        "rollout",
        "--by",
        manager.username,
        "restore-intent",
        "coupang_main",
        "배송문의",
        "--reason",
        "답변 템플릿 수정",
    )
    withdrawal.refresh_from_db()
    assert withdrawal.restored_by == manager and withdrawal.restore_reason == "답변 템플릿 수정"
    event = RolloutEvent.objects.get(action="RESTORE_INTENT")
    assert (event.actor, event.reason, event.data["intent"]) == (manager, "답변 템플릿 수정", "배송문의")
    assert not IntentWithdrawal.objects.active().exists()
    # Evidence from before the restore does not withdraw it again the next minute.
    call("monitor")
    assert not IntentWithdrawal.objects.active().exists()
