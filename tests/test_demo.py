"""`manage.py demo`, what `make demo` runs: every run tells the same story, its reset touches only the demo's
own accounts (an operator's account, its incident, its product facts and rules set to dry-run or off
survive it), and an account that fails is named with the reason. The marketplace is the demo's own
sandbox on loopback."""

from __future__ import annotations

import io
import re
import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import FollowUp, Inquiry, ProductFact, ProductKnowledge
from markets import services as market_services
from markets.connect import clear_client_cache
from markets.models import MarketAccount
from partialauto.demo import NEXT_SHIPPING_QUESTION, Demo
from partialauto.demo_setup import MANAGER_USER, DemoError
from policy.models import (
    AccountRollout,
    AutomationSettings,
    IntentWithdrawal,
    Mode,
    RollbackIncident,
    RollbackRule,
    RolloutEvent,
)
from policy.services import SYSTEM, emergency_stop, rollout_lock, rollout_unlock
from tests.factories import make_account, make_inquiry

pytestmark = pytest.mark.django_db

# What differs between two tellings of the same story: elapsed times, the sandbox's port, clock times,
# row ids and the fresh passwords.
VOLATILE = [
    (re.compile(r"\[\s*[\d.]+s\]"), "[t]"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+\-]\d{2}:\d{2}"), "TIME"),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} KST"), "TIME"),
    (re.compile(r"(문의 )\d+(?=:)"), r"\1N"),
    (re.compile(r"([Ii]nquiry |incident |사고 #|\(사고 )\d+"), r"\1N"),
    (re.compile(r"(demo-\w+ / )\S+"), r"\1PASSWORD"),
    # first-response times are measured on the clock: the table's durations differ by a second or two
    (re.compile(r"(\[첫 응답 시간\][^\n]*\n)(?:[^\n]+\n)*"), r"\1  (durations)\n"),
]


def run_demo() -> str:
    out = io.StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def story(output: str) -> str:
    for pattern, replacement in VOLATILE:
        output = pattern.sub(replacement, output)
    return output


def polled(output: str) -> list[tuple[str, int, int]]:
    """The inquiry poll's per-account lines: (account, fetched, new)."""
    return [
        (name, int(fetched), int(new))
        for name, fetched, new in re.findall(r"(\w+): 조회 (\d+)건, 새 문의 (\d+)건, 다른 곳에서 답변됨", output)
    ]


def days_of_history(output: str) -> int:
    """Rows of the shadow-mode 7-day table ([1.2]) of phase 1."""
    phase1 = output.split("Phase 1")[1].split("readiness")[0]
    return len(re.findall(r"^\s+\d{4}-\d{2}-\d{2}\s+\d+", phase1, flags=re.M))


def dead_loopback_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def test_demo__run_twice__tells_the_same_story() -> None:
    first, second = run_demo(), run_demo()

    assert polled(first)[:3] == [("coupang_main", 60, 60), ("coupang_sub", 60, 60), ("smartstore", 60, 60)]
    assert polled(second) == polled(first)
    assert days_of_history(first) == days_of_history(second) == 8  # today and the 7 days before it
    # phase 3's 5 answers and the complaint chapter's 10
    assert "샌드박스가 받은 답변 15건, 롤백 사고 #" in first and "롤백 사고 #None" not in first
    assert "[첫 응답 시간]" in first and "(durations)" in story(first)
    assert story(second) == story(first)


def test_demo__complaints_after_automatic_answers__withdraw_the_intent_until_a_manager_restores_it() -> None:
    output = run_demo()
    chapter = output.split("고객 불만 재문의 —")[1].split("KPI와 계정 상태")[0]

    # coupang_sub's automatic 배송문의 answers drew complaint follow-ups from the sandbox's buyers …
    sub = MarketAccount.objects.get(name="coupang_sub")
    answered = Inquiry.objects.filter(account=sub, intent="배송문의", status="AUTO_SEND", send_status="SENT")
    assert answered.count() >= 10  # the rule's minimum sample
    complaints = FollowUp.objects.filter(account=sub, intent="배송문의", path="AUTO", kind="COMPLAINT")
    assert complaints.count() >= 0.2 * answered.count()
    # … which the demo shows with kpi's own figures (answers, follow-ups, repeats, complaints) …
    figures = re.search(r"coupang_sub\s+배송문의\s+자동\s+(\d+)\s+(\d+)\s+\d+\s+(\d+)", chapter)
    assert figures is not None, chapter
    assert (int(figures[1]), int(figures[3])) == (answered.count(), complaints.count())

    # … so the monitor withdrew 배송문의 for that account with an incident (the account stayed unlocked) …
    withdrawal = IntentWithdrawal.objects.select_related("incident__rule").get(account=sub, intent="배송문의")
    incident = withdrawal.incident
    assert incident is not None and incident.rule.code == "intent-complaint-rate" and incident.account == sub
    assert (incident.figures["answers"], incident.figures["complaints"]) == (answered.count(), complaints.count())
    assert "ROLLBACK intent-complaint-rate [coupang_sub]" in chapter and "(중단: 배송문의)" in chapter
    assert f"사고 #{incident.pk}: " in chapter
    assert AccountRollout.objects.get(account=sub).locked_at is None
    assert AutomationSettings.get_solo().test_mode is False  # no global rule fired on the way

    # … the next 배송문의 went to a person, and readiness phase 5 said not ready because of it …
    nxt = Inquiry.objects.get(account=sub, content=NEXT_SHIPPING_QUESTION[1])
    assert (nxt.status, nxt.decision_trace["policy"]["reason_code"]) == ("HUMAN_REVIEW", "INTENT_WITHDRAWN")
    assert re.search(r"✗ 실패 고객 불만족 레포트 0건.*: .*자동화 중단 중인 의도: coupang_sub/배송문의", chapter)

    # … until the rollout manager restored it with a reason, recorded with who and why.
    assert withdrawal.restored_at is not None and withdrawal.restored_by is not None
    assert withdrawal.restored_by.username == MANAGER_USER and withdrawal.restore_reason
    event = RolloutEvent.objects.get(action="RESTORE_INTENT", account=sub)
    assert (event.actor, event.reason, event.data["intent"]) == (
        withdrawal.restored_by,
        withdrawal.restore_reason,
        "배송문의",
    )
    assert f"기록: {MANAGER_USER}, 사유 '{withdrawal.restore_reason}', " in chapter
    assert not IntentWithdrawal.objects.active().exists()
    assert f"불만 재문의로 의도 자동화 중단 사고 #{incident.pk} " in output


def test_demo__operator_account_incident_and_rules__survive_untouched() -> None:
    # Given an operator's own account (its marketplace unreachable right now), locked by an incident, with
    # a person's review waiting, its own shared product facts, and rules the operator set to dry-run or off.
    unreachable = dead_loopback_url()
    ops = make_account("ops_store", vendor_id="A00077777", api_base_url=unreachable)
    waiting = make_inquiry(ops, status="HUMAN_REVIEW", draft_answer="운영자가 검토 중인 답변", intent="교환반품")
    rollout_lock(account=ops, reason="운영자 잠금", actor=SYSTEM)
    rule = RollbackRule.objects.get(code="consecutive-failures")
    incident = RollbackIncident.objects.create(
        rule=rule,
        account=ops,
        scope_key=str(ops.pk),
        action_taken="lock ops_store",
        figures={"consecutive_failures": 3},
    )
    RollbackRule.objects.filter(code="global-failure-rate-24h").update(dry_run=True)
    RollbackRule.objects.filter(code="failed-per-hour").update(enabled=False)
    tumbler = ProductKnowledge.objects.create(
        product_id="7120034502", name="운영자 텀블러"
    )  # a demo product's id, shared
    ProductFact.objects.create(product=tumbler, text="운영자가 쓴 사실입니다.")

    # When
    output = run_demo()

    # Then the story is the usual one, and it says whose account it left alone
    assert polled(output) == [("coupang_main", 60, 60), ("coupang_sub", 60, 60), ("smartstore", 60, 60)]
    assert "ops_store" in output.split("Phase 1")[0]
    # … and none of the operator's data changed.
    ops.refresh_from_db()
    assert (ops.api_base_url, ops.is_active, ops.vendor_id) == (unreachable, True, "A00077777")
    assert Inquiry.objects.get(pk=waiting.pk).status == "HUMAN_REVIEW"
    assert Inquiry.objects.filter(account=ops).count() == 1
    assert AccountRollout.objects.get(account=ops).lock_reason == "운영자 잠금"
    assert RollbackIncident.objects.filter(pk=incident.pk, status="OPEN", account=ops).exists()
    assert RollbackRule.objects.get(code="global-failure-rate-24h").dry_run is True
    assert RollbackRule.objects.get(code="failed-per-hour").enabled is False
    tumbler.refresh_from_db()
    assert tumbler.name == "운영자 텀블러"
    assert list(tumbler.facts.values_list("text", flat=True)) == ["운영자가 쓴 사실입니다."]
    # The demo's own product facts are its accounts', not shared.
    assert not ProductKnowledge.objects.filter(account__isnull=True).exclude(pk=tumbler.pk).exists()


def test_poll_markets__a_failing_account_among_others__is_named_with_the_reason(live) -> None:
    make_account("ops_store", vendor_id="A00077777", api_base_url=dead_loopback_url())

    with pytest.raises(CommandError) as caught:
        call_command("poll_markets", stdout=io.StringIO())

    message = str(caught.value)
    assert message.startswith("계정 3개 중 1개 실패: ops_store ("), message
    assert re.search(r"ops_store \(.*(connect|refused)", message, flags=re.I), message


def test_demo__its_own_account_fails__names_it_and_why() -> None:
    class WrongSecret(Demo):
        def register_accounts(self) -> dict:
            accounts = super().register_accounts()
            market_services.account_set_credentials(account=accounts["coupang_sub"], values={"secret_key": "not-it"})
            clear_client_cache()
            return accounts

    demo = WrongSecret(lambda line: None)
    try:
        with pytest.raises(DemoError) as caught:
            demo.run()
    finally:
        demo.stop()

    message = str(caught.value)
    assert "1개 실패: coupang_sub (" in message and "HTTP 401" in message, message
    assert "coupang_main (" not in message and "smartstore (" not in message  # only the one that failed is blamed


def test_demo__another_account_unlocked_live__refuses_and_changes_nothing() -> None:
    ops = make_account("ops_live", vendor_id="A00088888", api_base_url=dead_loopback_url())
    rollout_unlock(account=ops, mode=Mode.LIVE, phase=None, actor=SYSTEM)
    before = AutomationSettings.get_solo()

    with pytest.raises(CommandError, match="ops_live"):
        run_demo()

    assert AccountRollout.objects.get(account=ops).mode == Mode.LIVE
    after = AutomationSettings.get_solo()
    assert (after.test_mode, after.partial_auto_enabled) == (before.test_mode, before.partial_auto_enabled)
    assert not MarketAccount.objects.filter(name__in=["coupang_main", "coupang_sub", "smartstore"]).exists()


def test_demo__an_operators_emergency_stop__is_not_lifted() -> None:
    emergency_stop(reason="운영자 긴급 정지", actor=SYSTEM)

    with pytest.raises(CommandError, match="운영자 긴급 정지"):
        run_demo()

    stopped = AutomationSettings.get_solo()
    assert stopped.emergency_stopped_at is not None and stopped.emergency_reason == "운영자 긴급 정지"
