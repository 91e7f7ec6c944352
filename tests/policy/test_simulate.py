"""simulate_policy: the JSONL contract, proposals, and the new user's first unlock."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import Inquiry
from tests.factories import make_account, make_shipping_policy

pytestmark = pytest.mark.django_db

MIX = [
    {"id": "d1", "content": "오늘 주문하면 언제 받을 수 있을까요?"},
    {"id": "d2", "content": "배송이너무늦네요언제오나요"},
    {"id": "u1", "content": "처음 사용할 때 세척하고 써야 하나요?", "product_name": "스테인리스 텀블러"},
    {"id": "u2", "content": "전원 켜는 방법을 모르겠어요 버튼을 길게 눌러야 하나요", "product_id": "7120034507"},
    {"id": "p1", "content": "키 165에 55kg인데 어떤 사이즈가 맞을까요", "title": "사이즈 문의"},
    {"id": "r1", "content": "무통장입금으로 결제했는데 환불은 어디로 받아요?"},
    {"id": "c1", "content": "실수로 두번 주문했어요 하나 취소 부탁드려요"},
    {"id": "x1", "content": "답변 안 주시면 소비자원에 신고하겠습니다. 배송 언제 와요?"},
    {"id": "x2", "content": "제품 쓰다가 손을 다쳤어요 배송은 언제 오나요"},
    {"id": "x3", "content": "법적으로 대응하겠습니다 전원 켜는 방법 알려주세요"},
]
RISKY = {"x1", "x2", "x3"}


@pytest.fixture
def mix_file(tmp_path):
    path = tmp_path / "mix.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in MIX) + "\n", encoding="utf-8")
    return path


def seller_facts(account) -> None:
    """What the seller told us: the shipping policy and one product's facts."""
    from inquiries.models import ProductFact, ProductKnowledge

    make_shipping_policy(account)
    lamp = ProductKnowledge.objects.create(product_id="7120034507", name="LED 무드등 수면등 USB 충전식")
    ProductFact.objects.create(
        product=lamp, text="전원은 본체 아래 버튼을 2초간 길게 누르면 켜지고, 다시 길게 누르면 꺼집니다."
    )
    ProductFact.objects.create(product=lamp, text="완전 충전까지 약 3시간 걸리며, 충전 중에는 빨간 불이 켜집니다.")


def run(*args) -> tuple[list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_policy", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()], err.getvalue()


def test_new_user__phase_1_unlock__only_shipping_and_usage_auto_send(mix_file):
    seller_facts(make_account("coupang_main"))
    call_command(
        "rollout",
        "settings",
        "--partial-auto",
        "on",
        "--test-mode",
        "off",
        "--hours",
        "always",
        "--reason",
        "시험",
        stdout=io.StringIO(),
    )
    call_command(
        "rollout", "unlock", "coupang_main", "--mode", "LIVE", "--phase", "1", "--reason", "1단계", stdout=io.StringIO()
    )
    rows, _err = run("--account", "coupang_main", "--input", str(mix_file))
    assert [r["id"] for r in rows] == [r["id"] for r in MIX]
    for row in rows:
        assert {"id", "intent", "confidence", "decision", "reason", "draft"} <= set(row)
        assert row["decision"] in ("AUTO_SEND", "HUMAN_REVIEW")
    auto = {r["id"] for r in rows if r["decision"] == "AUTO_SEND"}
    assert auto, "routine shipping/usage questions should be answerable in phase 1"
    assert {r["intent"] for r in rows if r["id"] in auto} <= {"배송문의", "사용법"}
    assert not auto & RISKY
    assert all(r["reason"] == "RISK_KEYWORD" for r in rows if r["id"] in RISKY)
    assert {"d1", "u2"} <= auto
    by_id = {r["id"]: r for r in rows}
    assert [f["source"] for f in by_id["d1"]["facts"]] == ["shipping_policy"] and "오후 2시 전에" in by_id["d1"][
        "draft"
    ]
    assert by_id["u2"]["facts"][0]["source"] == "product_knowledge" and "2초간 길게" in by_id["u2"]["draft"]
    assert all(r["grounded"] for r in rows if r["id"] in auto)
    assert Inquiry.objects.count() == 0  # nothing written


def test_full_unlock__wider_but_risk_and_threshold_still_apply(mix_file):
    rows, _ = run("--input", str(mix_file), "--full-unlock")
    auto = {r["id"] for r in rows if r["decision"] == "AUTO_SEND"}
    assert {r["intent"] for r in rows if r["id"] in auto} - {"배송문의", "사용법"}, "all intents are open"
    assert not auto & RISKY
    # Just above the least confident automatic answer (whatever the shipped model's calibration makes of
    # them): that one, at least, now goes to a person.
    lowest = min(r["confidence"] for r in rows if r["id"] in auto)
    strict, _ = run("--input", str(mix_file), "--full-unlock", "--threshold", f"{min(1.0, lowest + 0.0001):.4f}")
    assert {r["id"] for r in strict if r["decision"] == "AUTO_SEND"} < auto


def test_at_saturday__deferred_not_dropped(mix_file):
    seller_facts(make_account("coupang_main"))
    call_command(
        "rollout",
        "settings",
        "--partial-auto",
        "on",
        "--test-mode",
        "off",
        "--hours",
        "mon-fri 09:00-18:00",
        "--reason",
        "시험",
        stdout=io.StringIO(),
    )
    call_command(
        "rollout", "unlock", "coupang_main", "--mode", "LIVE", "--phase", "1", "--reason", "1단계", stdout=io.StringIO()
    )
    rows, _ = run("--input", str(mix_file), "--account", "coupang_main", "--at", "2026-11-28T11:00:00+09:00")
    auto = [r for r in rows if r["decision"] == "AUTO_SEND"]
    assert auto and all(r["deferred_until"] == "2026-11-30T09:00:00+09:00" for r in auto)


def test_bad_lines__reported_and_skipped_others_still_simulated(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": 1, "content": "배송 언제 와요?"}\n{not json\n{"content": "no id"}\n[1,2]\n', encoding="utf-8"
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="입력 3줄"):
        call_command("simulate_policy", "--input", str(path), stdout=out, stderr=err)
    assert len(out.getvalue().splitlines()) == 1
    assert (
        "2번째 줄: JSON 형식 오류" in err.getvalue() and "3번째 줄" in err.getvalue() and "4번째 줄" in err.getvalue()
    )


def test_refuses_unknown_account_phase_and_bad_threshold(mix_file):
    with pytest.raises(CommandError, match="없는 계정 'nope'"):
        run("--input", str(mix_file), "--account", "nope")
    with pytest.raises(CommandError, match="없는 단계 '9'"):
        run("--input", str(mix_file), "--phase", "9")
    with pytest.raises(CommandError, match="0과 1 사이"):
        run("--input", str(mix_file), "--threshold", "1.5")
    with pytest.raises(CommandError, match="읽을 수 없습니다"):
        run("--input", "/nonexistent/file.jsonl")


def test_table_format_and_stored_inquiries(mix_file):
    from tests.factories import make_inquiry

    account = make_account("coupang_main")
    for row in MIX:
        make_inquiry(account, content=row["content"])
    out = io.StringIO()
    call_command("simulate_policy", "--since", "7d", "--format", "table", stdout=out)
    text = out.getvalue()
    assert "문의 10건" in text and "의도별:" in text and "RISK_KEYWORD" in text
    assert re.search(r"^  위험 키워드\s+RISK_KEYWORD\s+\d+$", text, flags=re.M), text  # the reason by its Korean label
    assert Inquiry.objects.filter(status="NEW").count() == 10  # stored rows are not decided by a simulation
