"""evaluate_agent: the figures of the issue from a labelled file, and the items that would have been sent."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import make_account, make_shipping_policy

pytestmark = pytest.mark.django_db

LINES = [
    {"id": "a1", "content": "오늘 주문하면 언제 출고되나요?", "intent": "배송문의"},
    {"id": "a2", "content": "배송비 얼마예요? 무료배송 기준 있어요?", "intent": "배송문의"},
    {"id": "a3", "content": "세탁기 돌려도 되나요?", "intent": "사용법", "product_id": "7120034506"},
    {
        "id": "r1",
        "content": "답변 안 주시면 소비자원에 신고하겠습니다. 배송 언제 와요?",
        "intent": "배송문의",
        "risk": "REGULATOR",
    },
    {"id": "m1", "content": "300개 대량 구매하려는데 견적 가능할까요?", "intent": "기타", "must_human": "BULK_ORDER"},
    {"id": "x1", "content": "환불 언제 되나요", "intent": "환불", "split": "holdout"},
]


@pytest.fixture
def labelled(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in LINES) + "\nnot json\n", encoding="utf-8"
    )
    return path


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate_agent", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_evaluate__figures_as_json(labelled):
    make_shipping_policy(make_account("coupang_main"))
    out, err = run("--input", str(labelled), "--account", "coupang_main", "--format", "json")
    figures = json.loads(out)
    assert figures["items"] == 6 and figures["risky"] == 1 and figures["must_human"] == 1
    assert figures["risk_recall"] == 1.0 and figures["must_human_screen_recall"] == 1.0
    assert figures["to_a_person"] == {"risky": 1.0, "must_human": 1.0} and figures["sent_but_should_not"] == []
    assert {"expected_calibration_error", "reliability", "sweep", "per_intent", "routine_automation"} <= set(figures)
    assert figures["routine_items"] == 3 and figures["routine_automation"] > 0  # from the shipping policy
    assert "7번째 줄: " in err


def test_evaluate__table_and_split(labelled):
    out, _err = run("--input", str(labelled), "--split", "holdout")
    assert out.startswith("문의 1건 ") and "보정 오차 (ECE)" in out and "임계값  자동화" in out


def test_evaluate__bad_input_refused(labelled, tmp_path):
    with pytest.raises(CommandError, match="0과 1 사이"):
        run("--input", str(labelled), "--threshold", "1.5")
    with pytest.raises(CommandError, match="nobody"):
        run("--input", str(labelled), "--account", "nobody")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(CommandError, match="평가할 라벨 붙은 줄이 없습니다"):
        run("--input", str(empty))
    with pytest.raises(CommandError, match="읽을 수 없습니다"):
        run("--input", str(tmp_path / "missing.jsonl"))
