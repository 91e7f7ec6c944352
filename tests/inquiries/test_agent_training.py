"""The trained agent: features, the numpy run-time model and its storage, training with calibration and
screen thresholds, versions stored, activated and rolled back, and the loader deciding with the active one."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.agent import training
from inquiries.agent.loader import clear_cache, load_context
from inquiries.agent.normalize import normalize
from inquiries.agent.pipeline import run_agent
from inquiries.agent.textmodel import AgentModelArtifact, features
from inquiries.agent_models import AgentModelError, model_activate, model_rollback, train_and_store
from inquiries.models import AgentModel

# A tiny labelled world: enough to train on in a second, with every intent and both screens.
TEMPLATES = {
    "배송문의": [
        "택배 언제 와요",
        "배송 언제 되나요",
        "송장번호 알려주세요",
        "오늘 발송되나요",
        "배송 조회가 안돼요",
        "언제 도착하나요 주문했는데",
        "출고 언제 해요",
        "택배 어디쯤인가요",
    ],
    "사용법": [
        "충전 어떻게 해요",
        "페어링 방법 알려주세요",
        "세탁기 돌려도 되나요 세탁 방법",
        "처음 쓸 때 세척해야 하나요",
        "타이머 설정 방법이요",
        "조립 어떻게 하나요",
    ],
    "환불": ["환불 언제 되나요", "환불 금액이 달라요", "카드 환불 며칠 걸려요", "환불 처리 해주세요 반품 보냈어요"],
}
RISKY = ["소비자원에 신고하겠습니다", "변호사랑 상담했어요 소송할게요", "경찰에 고소합니다", "법적 조치 진행합니다"]
PERSON = ["100개 대량 구매 견적 부탁드려요", "조금만 깎아주세요 할인 안되나요", "각인 맞춤 제작 되나요"]


def small_world(n: int = 160, seed: int = 1) -> list[training.Example]:
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        intent = rng.choice(list(TEMPLATES))
        text = rng.choice(TEMPLATES[intent]) + rng.choice(["", "?", " ㅠㅠ", " 빨리요", " 궁금해요"])
        risk = must = None
        if i % 10 == 0:
            text, risk = rng.choice(RISKY) + " " + text, "LEGAL"
        elif i % 10 == 5:
            text, must = rng.choice(PERSON), "BULK_ORDER"
            intent = "환불" if "깎" in text else intent
        examples.append(training.Example(f"t{i}", text, intent, risk, must))
    return examples


def test_features__spacing_insensitive_and_word_aware():
    a, b = features(normalize("배송 언제 와요")), features(normalize("배송언제와요"))
    assert {k for k in a if k.startswith("c")} == {k for k in b if k.startswith("c")}
    assert "w:배송" in a and "w:배송" not in b and "b2: 배" in a


def test_training__a_model_that_reads_intents_and_screens_and_round_trips():
    artifact, metrics = training.train(small_world())
    restored = AgentModelArtifact.from_bytes(artifact.to_bytes())
    for model in (artifact, restored):
        assert model.predict(normalize("택배 언제 와요?")).intent == "배송문의"
        assert model.predict(normalize("페어링 방법 알려주세요")).intent == "사용법"
        legal = model.predict(normalize("소비자원에 신고하겠습니다 환불 언제 되나요"))
        assert legal.p_risk >= model.risk_threshold
        bulk = model.predict(normalize("100개 대량 구매 견적 부탁드려요"))
        assert bulk.p_person >= model.person_threshold
    oof = metrics["out_of_fold"]
    assert oof["intent_accuracy"] >= 0.9 and oof["risk_screen_recall"] >= training.SCREEN_RECALL - 0.05
    assert 0.0 <= artifact.risk_threshold <= training.MAX_SCREEN_THRESHOLD
    # calibration maps are monotone and inside [0, 1]
    for calibration in (artifact.intent_calibration, artifact.confidence_calibration):
        ys = [calibration(x) for x in np.linspace(0, 1, 21)]
        assert ys == sorted(ys) and 0.0 <= min(ys) <= max(ys) <= 1.0


def test_screen_threshold__catches_the_asked_share():
    prob = np.asarray([0.9, 0.8, 0.7, 0.6, 0.5, 0.1, 0.05, 0.02, 0.4, 0.3])
    positive = np.asarray([True] * 5 + [False] * 5)
    threshold = training.screen_threshold(prob, positive, recall=0.8)
    assert (prob[positive] >= threshold).mean() >= 0.8 and threshold <= 0.6


def test_calibration_figures():
    assert training.expected_calibration_error([0.9] * 10, [1] * 9 + [0]) == pytest.approx(0.0)
    assert training.expected_calibration_error([0.9] * 10, [0] * 10) == pytest.approx(0.9)
    rows = training.reliability([0.05, 0.95, 0.95], [0, 1, 0])
    assert rows[0]["n"] == 1 and rows[-1] == {"low": 0.9, "high": 1.0, "n": 2, "confidence": 0.95, "observed": 0.5}


def test_shipped_examples__never_the_held_out_part():
    examples = training.shipped_examples()
    ids = {e.id for e in examples}
    held = [
        json.loads(line)["id"]
        for line in (training.DATA_DIR / "labelled_inquiries.jsonl").read_text(encoding="utf-8").splitlines()
        if '"split": "holdout"' in line
    ]
    assert held and not ids & set(held)
    assert len(examples) >= 800


@pytest.mark.django_db
def test_versions__stored_activated_rolled_back_and_used_by_the_loader(monkeypatch):
    shipped = AgentModel.objects.get(is_active=True)  # installed by migration 0014
    assert (shipped.version, shipped.account_id) == (1, None)
    monkeypatch.setattr(training, "shipped_examples", lambda: small_world())
    first = train_and_store(actor="tester", notes="first").model
    assert (first.version, first.is_active) == (2, False)
    assert first.metrics["held_out"]["intent_accuracy"] > 0.8 and first.training_data["shipped"] == 160
    clear_cache()
    assert load_context().model_version == 1  # a stored version is not used until activated
    model_activate(model=first, actor="tester")
    second = train_and_store(actor="tester", activate=True).model
    first.refresh_from_db()
    assert second.is_active and not first.is_active
    clear_cache()
    ctx = load_context()
    assert ctx.model_version == 3
    result = run_agent(content="페어링 방법 알려주세요", context=ctx)
    assert result.model_version == 3 and result.intent == "사용법"
    assert next(r for r in result.trace if r["step"] == "model")["version"] == 3
    back = model_rollback(actor="tester")
    assert back is not None and back.version == 2 and AgentModel.objects.get(version=3).is_active is False
    assert model_rollback(actor="tester").version == 1  # the shipped version
    assert model_rollback(actor="tester") is None  # nothing before it: the rules classifier
    clear_cache()
    assert load_context().model is None
    with pytest.raises(AgentModelError):
        model_rollback(actor="tester")


@pytest.mark.django_db
def test_train_agent_command__prints_its_figures_and_refuses_unknown_accounts(monkeypatch):
    monkeypatch.setattr(training, "shipped_examples", lambda: small_world())
    out = io.StringIO()
    call_command("train_agent", "--activate", "--notes", "test run", stdout=out)
    text = out.getvalue()
    assert "버전 2 (사용 중)" in text and "검증용 의도 정확도" in text
    with pytest.raises(CommandError, match="nobody"):
        call_command("train_agent", "--account", "nobody", stdout=io.StringIO())
