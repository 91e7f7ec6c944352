"""As a new user would: a sandbox with 200 inquiries and their orders (`market_sandbox --seed-inquiries 50`),
two accounts registered at it with the example shipping policy and product knowledge, `sync_orders`,
`poll_markets`, `process_inquiries` with coupang_main and smartstore unlocked LIVE in phase 1 and business
hours always. Shipping questions about shipped, in-transit and delivered orders are answered automatically
with that order's own carrier and tracking number; cancelled, returned, exchanged, stalled and misdelivered
ones go to a person."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from inquiries.models import Inquiry
from markets.models import MarketOrder
from markets.sandbox.control import SandboxControl
from policy.models import AccountRollout
from tests.markets.sandbox_process import ROOT, flags_for, running_sandbox

pytestmark = pytest.mark.django_db
EXAMPLES = ROOT / "docs" / "examples"
ANSWERABLE = {"shipped", "in_transit", "delivered"}  # split orders (partly shipped) may go either way
PERSON = {"cancelled", "returned", "exchanged", "stalled", "misdelivered"}
KINDS = ("COUPANG_ONLINE", "COUPANG_CALLCENTER", "NAVER_QNA", "NAVER_INQUIRY")


@pytest.fixture
def sandbox_process():
    with running_sandbox("--seed-inquiries", "50", "--seed", "20261201") as (_proc, banner, url):
        yield banner, url


def call(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_new_user__shipping_questions_answered_from_their_own_orders(sandbox_process):
    banner, url = sandbox_process
    control = SandboxControl(url)
    call("market_account", "add", "--name", "coupang_main", "--market", "COUPANG", *flags_for(banner, "COUPANG"))
    call("market_account", "add", "--name", "smartstore", "--market", "SMARTSTORE", *flags_for(banner, "SMARTSTORE"))
    for name in ("coupang_main", "smartstore"):
        call("shipping_policy", "import", str(EXAMPLES / "shipping-policy.json"), "--account", name)
    call("product_knowledge", "import", str(EXAMPLES / "product-knowledge.json"))
    call(
        "rollout", "settings", "--partial-auto", "on", "--test-mode", "off", "--hours", "always", "--reason", "new user"
    )
    for name in ("coupang_main", "smartstore"):
        call("rollout", "unlock", name, "--mode", "LIVE", "--phase", "1", "--reason", "new user: phase 1")
    # Phase 1's quota (10 a day) would hand most of them to a person whatever the agent says; here the
    # question is what the agent and the other gates decide about each one.
    AccountRollout.objects.update(quota_override=1000)

    synced = call("sync_orders")
    assert "coupang_main: 조회" in synced and "smartstore: 조회" in synced
    assert MarketOrder.objects.count() > 100
    # nothing personal is kept from the order payloads
    raw = " ".join(str(o.raw_payload) for o in MarketOrder.objects.all())
    assert not re.search(r"receiver|orderer|shippingAddress|safeNumber|requesterName|addr1", raw)

    call("poll_markets")
    assert Inquiry.objects.count() == 200
    call("process_inquiries")

    remote = {
        (
            kind,
            str(
                item[
                    {
                        "COUPANG_ONLINE": "inquiryId",
                        "COUPANG_CALLCENTER": "inquiryId",
                        "NAVER_QNA": "questionId",
                        "NAVER_INQUIRY": "inquiryNo",
                    }[kind]
                ]
            ),
        ): item
        for kind in KINDS
        for item in control.inquiries(kind)
    }
    orders = {line["line_id"]: line for order in control.orders() for line in order["lines"]}
    rows = [(row, remote[(row.kind, row.external_id)]) for row in Inquiry.objects.all()]
    shipping = [
        (row, item)
        for row, item in rows
        if item["_intent"] == "배송문의" and item.get("_scenario") not in (None, "policy")
    ]
    assert len(shipping) >= 60, len(shipping)

    decided = [(row, item) for row, item in shipping if row.status != "ANSWERED_ELSEWHERE" and not item["_risky"]]
    answerable = [(row, item) for row, item in decided if item["_scenario"] in ANSWERABLE]
    auto = [(row, item) for row, item in answerable if row.status == "AUTO_SEND"]
    not_auto = [
        (row.external_id, item["_scenario"], row.decision_reason, row.content)
        for row, item in answerable
        if row.status != "AUTO_SEND"
    ]
    assert len(auto) >= 0.8 * len(answerable), not_auto

    all_tracking = {line["invoice"] for line in orders.values() if line.get("invoice")}
    for row, item in [(row, item) for row, item in decided if row.status == "AUTO_SEND"]:  # split ones too
        answer = row.final_answer
        own = [orders[line_id] for line_id in item["_order_lines"]]
        for line in own:
            if line.get("invoice"):
                assert line["invoice"] in answer, (row.external_id, answer)
        if any(line.get("invoice") for line in own):
            assert any(name in answer for name in ("CJ대한통운", "한진택배", "롯데택배", "로젠택배", "우체국택배")), (
                answer
            )
        others = all_tracking - {line.get("invoice") for line in own}
        assert not [t for t in others if t in answer], (row.external_id, answer)
        assert [f["source"] for f in row.decision_trace["agent"]["facts"]][0] == "order"

    for row, item in decided:
        if item["_scenario"] in PERSON:
            assert row.status == "HUMAN_REVIEW", (row.external_id, item["_scenario"], row.decision_reason, row.content)
