"""The rollout story on the embedded default (SQLite, no services), as the README's first command.

A sandbox marketplace runs in this process on a free port; the guide's three accounts point at it.
The story: shadow mode and the readiness report → test mode for coupang_main (phase 1) → live →
answers reach the sandbox → the sandbox starts failing → a rollback rule locks the account →
buyers complain after coupang_sub's automatic shipping answers → the rule withdraws 배송문의 for that
account → a rollout manager restores it → the incident, the KPI table and how to open the admin.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.management import call_command
from django.test.utils import override_settings
from django.utils.translation import gettext as _

from partialauto import cli
from partialauto.demo_setup import MANAGER_USER, DemoSetup, _call, _own_accounts_args

if TYPE_CHECKING:
    from policy.models import IntentWithdrawal

# Phase 3's questions: (kind, text, what they are about). "scenario" creates an order in that state and
# names it in the inquiry; "product" is a catalogue product the seller's product knowledge covers.
# Routine ones are answered from facts; a legal threat, a refund outside phase 1, a cancelled order and
# a question no fact answers go to a person.
LIVE_QUESTIONS = [
    (
        "COUPANG_ONLINE",
        "주문한 텀블러 어디쯤 왔나요? 송장번호도 알려주세요",
        {"scenario": "in_transit", "product": 7120034502},
    ),
    ("COUPANG_ONLINE", "오늘 주문하면 언제 출고되나요?", {}),
    ("COUPANG_ONLINE", "제주도도 배송 되나요? 추가 배송비 있나요", {}),
    ("COUPANG_ONLINE", "그릴판 식기세척기에 넣어서 세척해도 되나요?", {"product": 7120034508}),
    ("COUPANG_ONLINE", "배송 언제 오나요? 택배 조회가 안 돼요", {"scenario": "shipped"}),
    ("COUPANG_ONLINE", "답변 안 주시면 소비자원에 신고하겠습니다. 배송 언제 와요?", {"scenario": "in_transit"}),
    ("COUPANG_ONLINE", "무통장입금으로 결제했는데 환불은 어디로 받아요?", {}),
    ("COUPANG_ONLINE", "취소했는데 배송되는 건가요?", {"scenario": "cancelled"}),
    ("COUPANG_ONLINE", "이 의자 캠핑장 말고 낚시할 때 물가에서 써도 되나요?", {"product": 7120034503}),
]
FAILING_QUESTIONS = [
    ("COUPANG_ONLINE", "택배 어디쯤 왔나요? 배송중으로 나와요", {"scenario": "in_transit"}),
    ("COUPANG_ONLINE", "오늘 주문하면 내일 받을 수 있나요?", {}),
    ("COUPANG_ONLINE", "배송비 얼마예요? 무료배송 기준 있어요?", {}),
    ("COUPANG_ONLINE", "타이머는 몇 분까지 설정돼요?", {"product": 7120034508}),
]
# The complaint chapter: coupang_sub's shipping questions about its own orders — ten the agent answers
# from the order's facts (the intent rule's minimum sample) and one it is not sure enough of. Phase 1's
# daily quota (10) caps the automatic answers there in any case: with phase 3's and phase 4's 8 real sends
# the 24 hours stay under the global failure rule's sample of 20, so phase 4's three failures do not switch
# global test mode on in the middle of this story.
COMPLAINED_QUESTIONS = [
    ("COUPANG_ONLINE", "주문한 거 발송됐나요? 송장번호 알려주세요", {"scenario": "shipped"}),
    ("COUPANG_ONLINE", "배송 조회하면 어디까지 왔는지 나오나요?", {"scenario": "in_transit"}),
    ("COUPANG_ONLINE", "어제 주문했는데 언제 출고돼요?", {"scenario": "preparing"}),
    ("COUPANG_ONLINE", "그릴판 배송 언제 와요?", {"scenario": "in_transit", "product": 7120034508}),
    ("COUPANG_ONLINE", "송장번호가 안 나와요. 발송은 됐나요?", {"scenario": "shipped"}),
    ("COUPANG_ONLINE", "텀블러 오늘 도착하나요?", {"scenario": "in_transit", "product": 7120034502}),
    ("COUPANG_ONLINE", "결제했는데 아직 배송 준비중이네요. 언제 보내주세요?", {"scenario": "preparing"}),
    ("COUPANG_ONLINE", "배송 중으로 나오는데 며칠 걸려요?", {"scenario": "in_transit"}),
    ("COUPANG_ONLINE", "택배사가 어디예요? 조회해 보려고요", {"scenario": "shipped"}),
    ("COUPANG_ONLINE", "의자 주문했는데 배송 어디쯤인가요?", {"scenario": "in_transit", "product": 7120034503}),
    ("COUPANG_ONLINE", "출고됐다고 떴는데 송장번호 좀 알려주세요", {"scenario": "shipped"}),
]
NEXT_SHIPPING_QUESTION = ("COUPANG_ONLINE", "배송 언제 오나요? 주문한 지 사흘 됐어요", {"scenario": "in_transit"})


@dataclass
class DemoResult:
    admin_password: str
    manager_password: str
    agent_password: str
    sandbox_url: str
    answers_at_sandbox: int
    incident_id: int | None
    intent_incident_id: int | None


class GuideLines(logging.Handler):
    """Echo the guide's send-path log lines (2.2) while the story runs."""

    MARKERS = ("[TEST_MODE]", "locked as SENDING", "Successfully auto-sent", "ROLLBACK")

    def __init__(self, echo: Callable[[str], None]):
        super().__init__(level=logging.INFO)
        self.echo = echo

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS):
            self.echo(f"      [{record.levelname}] {message[:160]}")


def _quiet_stderr() -> list[tuple[logging.Handler, int]]:
    changed: list[tuple[logging.Handler, int]] = []
    for name in ("partialauto", "django_q"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                changed.append((handler, handler.level))
                handler.setLevel(logging.CRITICAL)
    return changed


class Demo(DemoSetup):
    """The story itself, told on the stage :class:`~partialauto.demo_setup.DemoSetup` sets."""

    def run(self) -> DemoResult:
        from inquiries.models import Inquiry
        from policy.models import RollbackIncident

        self.step("데이터베이스 준비 (migrate)")
        call_command("migrate", verbosity=0)
        quieted = _quiet_stderr()
        guide = GuideLines(self.echo)
        logging.getLogger("partialauto").addHandler(guide)
        try:
            self.step("샌드박스 마켓(쿠팡 + 네이버 커머스 API 흉내) 시작")
            self.start_sandbox()
            self.echo(f"    {self.running_sandbox.url}  (서명·토큰을 실제 API처럼 검사합니다)")
            others = self.reset_demo_data()
            accounts = self.register_accounts()
            admin_pw, manager_pw, agent_pw = self.users()
            self.echo("    계정 3개 등록: " + ", ".join(accounts) + " (인증정보는 암호화해 저장)")
            if others:
                self.echo(
                    "    "
                    + _("데모 계정이 아닌 계정 %(count)s개(%(names)s)는 수집하지도 초기화하지도 않습니다.")
                    % {"count": len(others), "names": ", ".join(others)}
                )
            self.load_seller_facts(accounts)
            # The story starts where the guide's phase 1 does (switch off, test mode on) on every run; both
            # only make automation stricter for any other account.
            _call(
                "rollout",
                "settings",
                "--hours",
                "always",
                "--partial-auto",
                "off",
                "--test-mode",
                "on",
                "--reason",
                "demo: 섀도 모드에서 시작, 언제 실행해도 보이도록",
            )
            self.echo("    데모에서는 영업시간을 'always'로 둡니다 (운영에서는 mon-fri 09:00-18:00 등).")

            self.step("Phase 1 — Shadow Mode: 수집하고 판정만 합니다 (사람이 답변)")
            for account in accounts.values():
                self.seed(account, 60, days_back=7)
            self.echo("    주문 동기화 (sync_orders): 배송 답변은 그 주문의 실제 상태·택배사·운송장으로 씁니다")
            self.show(_call("sync_orders", *_own_accounts_args()))
            self.show(_call("poll_markets", *_own_accounts_args()))
            self.show(_call("process_inquiries"))
            self.show(_call("kpi", "--window", "7d").split("[1.3]")[0])
            self.step("준비 상태 점검 (readiness)")
            self.show(_call("readiness"))

            self.step("Phase 2 — TEST_MODE: coupang_main을 1단계 TEST로 해금 (전송 경로만, 마켓 호출 없음)")
            self.show(
                _call("rollout", "settings", "--partial-auto", "on", "--test-mode", "on", "--reason", "demo phase 2")
            )
            _call("rollout", "unlock", "coupang_main", "--mode", "TEST", "--phase", "1", "--reason", "demo phase 2")
            self.ask(accounts["coupang_main"], LIVE_QUESTIONS[:3])
            _call("poll_markets", "--account", "coupang_main")
            self.show(_call("process_inquiries"))
            self.echo("    tail -f api.log | grep TEST_MODE 에 나오는 줄:")
            self.show(_call("send_due"))
            test_rows = Inquiry.objects.filter(account=accounts["coupang_main"], is_test_mode=True)
            self.echo(
                f"    테스트 모드 기록 {test_rows.count()}건, "
                f"샌드박스에 도착한 답변 {len(self.running_sandbox.store.answers())}건"
            )

            self.step("Phase 3 — coupang_main 실전송(LIVE), 1단계: 배송문의·사용법만, 하루 10건")
            _call("rollout", "settings", "--test-mode", "off", "--reason", "demo phase 3")
            _call("rollout", "unlock", "coupang_main", "--mode", "LIVE", "--phase", "1", "--reason", "demo phase 3")
            asked = self.ask(accounts["coupang_main"], LIVE_QUESTIONS)
            _call("sync_orders", "--account", "coupang_main")
            _call("poll_markets", "--account", "coupang_main")
            self.show(_call("simulate_policy", "--since", "1h", "--account", "coupang_main", "--format", "table"))
            self.show(_call("process_inquiries"))
            self.show(_call("send_due"))
            answered = self.running_sandbox.store.answers()
            self.echo(f"    샌드박스가 받은 답변: {len(answered)}건")
            self.show_grounded_answer(asked[0])

            self.step("Phase 4 — 장애 주입: 샌드박스가 모든 답변에 500을 돌려줍니다")
            self.running_sandbox.store.set_faults(scope="answers", fault_rate=1.0)
            self.ask(accounts["coupang_main"], FAILING_QUESTIONS)
            _call("poll_markets", "--account", "coupang_main")
            _call("process_inquiries")
            self.show(_call("send_due"))
            self.running_sandbox.store.set_faults(fault_rate=0.0)
            self.echo(
                "    "
                + _("500은 답변이 반영됐는지 모르는 결과입니다: 다시 보내지 않고 마켓에 물어 정산합니다 (reconcile)")
            )
            # The sandbox answered each call at once, so no request of ours can still land: no quiet period.
            with override_settings(CS_RECONCILE_QUIET_SECONDS=0):
                self.show(_call("reconcile", "--stale-after", "0"))
            self.show(_call("monitor"))
            incident = (
                RollbackIncident.objects.filter(account=accounts["coupang_main"])
                .select_related("rule")
                .order_by("-fired_at")
                .first()
            )
            if incident is not None:
                self.echo(f"    사고 #{incident.pk}: {incident.rule.name} → {incident.action_taken}")

            withdrawn = self.complaints_withdraw_an_intent(accounts["coupang_sub"])

            self.step("KPI와 계정 상태")
            self.show(_call("kpi", "--window", "24h"))
            self.show(_call("rollout", "status"))
            return DemoResult(
                admin_pw,
                manager_pw,
                agent_pw,
                self.running_sandbox.url,
                len(self.running_sandbox.store.answers()),
                incident.pk if incident else None,
                withdrawn.incident_id if withdrawn else None,
            )
        finally:
            logging.getLogger("partialauto").removeHandler(guide)
            for handler, level in quieted:
                handler.setLevel(level)

    def complaints_withdraw_an_intent(self, account) -> IntentWithdrawal | None:
        """Buyers write again after the account's automatic shipping answers, mostly to complain ("답변
        받았는데 그게 아니라요"): the intent rule takes 배송문의 out of automation for that account (an
        incident), the next 배송문의 goes to a person, readiness phase 5 is not ready because of it, and a
        rollout manager restores it with a reason. The buyers are the sandbox's, switched on over its
        control API; the figures are `kpi`'s and the rule is the monitor's."""
        from inquiries.models import FollowUp, Inquiry
        from markets.sandbox.control import SandboxControl
        from policy.management.commands.readiness import MARKS
        from policy.models import IntentWithdrawal

        name, intent = account.name, "배송문의"
        self.step(
            _("고객 불만 재문의 — %(account)s 실전송(LIVE) 1단계: 배송문의 자동 답변 뒤 구매자들이 다시 씁니다")
            % {"account": name}
        )
        control = SandboxControl(self.running_sandbox.url)
        buyers = control.set_follow_ups(share=0.3, intents=[intent], complaint_share=0.8)
        self.echo(
            "    "
            + _(
                "샌드박스의 구매자: 배송문의 답변 %(share)d%%에 같은 주문으로 다시 문의하고, 그중 %(complaints)d%%는 "
                "불만입니다 (POST /_sandbox/follow-ups)"
            )
            % {"share": round(buyers["share"] * 100), "complaints": round(buyers["complaint_share"] * 100)}
        )
        _call("rollout", "unlock", name, "--mode", "LIVE", "--phase", "1", "--reason", "demo: 불만 재문의")
        self.ask(account, COMPLAINED_QUESTIONS)
        _call("sync_orders", "--account", name)
        _call("poll_markets", "--account", name)
        self.show(_call("process_inquiries"))
        self.show(_call("send_due"))
        sent = Inquiry.objects.filter(
            account=account, intent=intent, status="AUTO_SEND", send_status="SENT", is_test_mode=False
        ).count()
        self.echo(
            "    "
            + _("%(account)s의 배송문의 자동 답변 %(n)d건이 샌드박스에 도착했습니다 (규칙의 최소 표본 10건)")
            % {"account": name, "n": sent}
        )

        _call("poll_markets", "--account", name)  # the buyers' next inquiries, linked to the answers they follow
        follow_ups = (
            FollowUp.objects.filter(account=account)
            .select_related("inquiry", "earlier")
            .order_by("inquiry__external_id")  # the sandbox's ids, in the order the buyers wrote
        )
        self.echo(
            "    "
            + _("다음 수집에서 구매자 재문의 %(n)d건이 먼저 받은 답변과 연결됐습니다 (같은 주문):")
            % {"n": len(follow_ups)}
        )
        for link in follow_ups:
            self.echo(
                f"      #{link.inquiry.external_id} ({link.get_kind_display()}) "
                f'"{link.inquiry.content[:60]}" ← #{link.earlier.external_id}'
            )
        self.echo("    kpi --window 7d:")
        self.show("[5.1]" + _call("kpi", "--window", "7d").split("[5.1]", 1)[1])  # the follow-up figures
        self.show("\n".join(line for line in _call("monitor").splitlines() if not line.lstrip().startswith("{")))
        withdrawal = (
            IntentWithdrawal.objects.filter(account=account, intent=intent)
            .select_related("incident__rule")
            .order_by("-withdrawn_at")
            .first()
        )
        if withdrawal is None or withdrawal.incident is None:
            return withdrawal
        incident = withdrawal.incident
        self.echo(
            "    "
            + _("사고 #%(id)s: %(rule)s → %(action)s")
            % {"id": incident.pk, "rule": incident.rule.name, "action": incident.action_taken}
        )
        self.show("\n".join(line for line in _call("rollout", "status").splitlines() if line.startswith(name + " ")))

        self.echo("    " + _("그다음 배송문의와 재문의는 사람에게 갑니다:"))
        (asked,) = self.ask(account, [NEXT_SHIPPING_QUESTION])
        _call("sync_orders", "--account", name)
        _call("poll_markets", "--account", name)
        self.show(_call("process_inquiries"))
        row = Inquiry.objects.get(account=account, kind=NEXT_SHIPPING_QUESTION[0], external_id=asked)
        self.echo(
            "    "
            + _('%(intent)s #%(id)s "%(text)s" → %(status)s (%(reason)s)')
            % {
                "intent": row.intent,
                "id": asked,
                "text": row.content,
                "status": row.status,
                "reason": (row.decision_trace.get("policy") or {}).get("reason_code", "-"),
            }
        )

        report = json.loads(_call("readiness", "--format", "json"))
        check = next(c for c in report["checks"] if c["code"] == "customer-complaints")
        sign, word, _style = MARKS[check["status"]]
        self.echo(f"    readiness — {report['sections'][check['section']]}")
        self.echo(f"      {sign} {word} {check['name']}: {check['detail']}")

        reason = _("배송 답변 템플릿 수정: 출고 전 주문은 예정일만 안내")
        self.step(
            _("롤아웃 관리자 %(user)s가 사유를 남기고 %(account)s의 배송문의를 복구합니다")
            % {"user": MANAGER_USER, "account": name}
        )
        self.show(_call("rollout", "--by", MANAGER_USER, "restore-intent", name, intent, "--reason", reason))
        withdrawal.refresh_from_db()
        self.echo(
            "    "
            + _("기록: %(who)s, 사유 '%(why)s', %(when)s (사고 #%(incident)s)")
            % {
                "who": withdrawal.restored_by_label,
                "why": withdrawal.restore_reason,
                "when": cli.local_time(withdrawal.restored_at),
                "incident": incident.pk,
            }
        )
        self.echo("    " + _("복구 전의 불만은 다시 세지 않습니다: 규칙은 복구 뒤의 자동 답변부터 셉니다"))
        self.show(_call("monitor"))
        return withdrawal

    def show_grounded_answer(self, external_id: str) -> None:
        """The shipping question about an order in transit: the answer states that order's own carrier and
        tracking number, and the decision trace lists the facts it used."""
        from inquiries.models import Inquiry

        row = Inquiry.objects.filter(kind="COUPANG_ONLINE", external_id=external_id).first()
        if row is None:
            return
        order = self.running_sandbox.store.get_order(row.order_id) or {"lines": []}
        tracking = [line["invoice"] for line in order["lines"] if line.get("invoice")]
        self.echo(f'    배송문의 #{external_id} "{row.content}" → {row.status}/{row.send_status}')
        self.echo(f"      샌드박스의 그 주문: {order.get('order_id')}, 운송장 {', '.join(tracking) or '-'}")
        for line in (row.final_answer or row.draft_answer).splitlines():
            self.echo(f"      │ {line}")
        for fact in (row.decision_trace.get("agent") or {}).get("facts", []):
            self.echo(f"      근거: {fact['source']} {fact['id']} ({fact['detail']})")
