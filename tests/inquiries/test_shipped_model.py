"""The agent version shipped with partialauto (inquiries/agent/data/shipped-model.npz): built from the
data in the tree, installed active by migration 0014, and deciding sensibly out of the box."""

from __future__ import annotations

import pytest

from inquiries.agent import training
from inquiries.agent.loader import clear_cache, load_context
from inquiries.agent.pipeline import run_agent
from inquiries.agent.textmodel import SHIPPED_MODEL, AgentModelArtifact
from inquiries.models import AgentModel
from tests.inquiries.agent_context import policy_facts


@pytest.fixture(scope="module")
def shipped() -> AgentModelArtifact:
    return AgentModelArtifact.from_bytes(SHIPPED_MODEL.read_bytes())


def test_built_from_the_data_and_settings_in_the_tree(shipped):
    recorded = shipped.meta["shipped"]["data_fingerprint"]
    assert recorded == training.data_fingerprint(training.shipped_examples()), (
        "the shipped labelled data or the training settings changed: rebuild the shipped version with "
        ".venv/bin/python scripts/build_shipped_model.py"
    )


def test_carries_its_figures_and_answer_calibration(shipped):
    figures = shipped.meta["shipped"]["metrics"]
    assert figures["held_out"]["intent_accuracy"] >= 0.85
    assert figures["held_out"]["expected_calibration_error"] <= 0.05
    assert shipped.meta["shipped"]["training_data"]["shipped"] == len(training.shipped_examples())
    assert {"knowledge", "shipping_policy", "order_status"} <= set(shipped.answer_calibration)
    for calibration in shipped.answer_calibration.values():
        assert list(calibration.y) == sorted(calibration.y) and 0.0 <= calibration.y[0] <= calibration.y[-1] <= 1.0


@pytest.mark.django_db
def test_installed_active_for_every_account_by_the_migration():
    model = AgentModel.objects.get(version=1)
    assert model.is_active and model.account_id is None and model.activated_at is not None
    assert bytes(model.artifact) == SHIPPED_MODEL.read_bytes()
    assert model.metrics["held_out"]["intent_accuracy"] >= 0.85 and model.training_data["shipped"] > 800


@pytest.mark.django_db
def test_a_new_installation_decides_with_it():
    clear_cache()
    context = load_context("coupang_main", "행복상점")
    assert context.model_version == 1
    routine = run_agent(content="오늘 주문하면 언제 받을 수 있어요?", context=context, facts=policy_facts())
    assert routine.model_version == 1 and routine.intent == "배송문의" and not routine.needs_human
    assert routine.answer_kind == "shipping_policy" and routine.grounded
    # no keyword, still a threat: the learned screen catches it
    threat = run_agent(content="이 건 그냥 안 넘어갑니다. 대화 내용 전부 저장해 뒀어요.", context=context)
    assert threat.needs_human and threat.reason == "RISK_KEYWORD"
