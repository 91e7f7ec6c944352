"""Trained agent versions: what they learn from, training and storing one, activating and rolling back.

The shipped labelled set's training part is always in; the seller's own labels are the intents people
set or confirmed in the review queue (``labelled_intent``), weighted higher. A version is measured on a
held-out fifth of that data made before anything is fitted, then fitted again on all of it and stored
(inactive unless asked). Activating one makes every worker decide with it within the agent loader's
cache time; rolling back activates the previous version (or none: the rules classifier).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from inquiries.models import AgentModel, Inquiry
from markets.models import MarketAccount

log = logging.getLogger("partialauto.agent")


# Where the admin's threshold sweep looks (model and learned screens on the held-out part).
SWEEP_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


class AgentModelError(ValueError):
    pass


def seller_examples(*, account: MarketAccount | None = None) -> list:
    """The intents the seller's people set or confirmed, as training examples."""
    from inquiries.agent.training import SELLER_WEIGHT, Example, example_text

    rows = Inquiry.objects.exclude(labelled_intent="").order_by("id")
    if account is not None:
        rows = rows.filter(account=account)
    examples = []
    for row in rows.values("id", "title", "content", "labelled_intent").iterator(chunk_size=1000):
        # A person's intent says nothing about risk or requests only a person may grant: the screens keep
        # learning from the shipped labels only.
        examples.append(
            Example(
                f"inquiry-{row['id']}",
                example_text(row),
                row["labelled_intent"],
                None,
                None,
                SELLER_WEIGHT,
                "seller",
                person_labelled=False,
                risk_labelled=False,
            )
        )
    return examples


@dataclass(frozen=True)
class Trained:
    model: AgentModel
    metrics: dict


def build_version(shipped: list, seller: list, *, account_name: str | None = None, seed: int = 0) -> tuple:
    """Train a version without touching the database: measured on a held-out fifth made before anything
    is fitted, then fitted on everything. Returns (artifact, metrics, training_data)."""
    from inquiries.agent import training

    examples = shipped + seller
    if len(examples) < 50 or len({e.intent for e in examples}) < 2:
        raise AgentModelError("too few labelled examples to train on")
    train_part, held_out = training.split_for_evaluation(examples, seed=seed)
    measured, _oof = training.train(train_part, seed=seed)
    metrics = {"held_out": held_out_metrics(measured, held_out)}
    artifact, oof = training.train(examples, seed=seed, meta={"account": account_name})
    metrics["out_of_fold"] = oof["out_of_fold"]
    data = {
        "shipped": len(shipped),
        "seller_labels": len(seller),
        "held_out": len(held_out),
        "intents": dict(Counter(e.intent for e in examples)),
        "sources": dict(Counter(e.source for e in examples)),
    }
    return artifact, metrics, data


def train_and_store(
    *, actor: str, account: MarketAccount | None = None, activate: bool = False, notes: str = "", seed: int = 0
) -> Trained:
    """Train a new version from the shipped set and the seller's labels, measure it on a held-out part,
    refit it on everything and store it. Long-running (seconds to minutes): no transaction is held."""
    from inquiries.agent import training

    shipped = training.shipped_examples()
    seller = seller_examples(account=account)
    artifact, metrics, data = build_version(shipped, seller, account_name=account.name if account else None, seed=seed)
    with transaction.atomic():
        version = (AgentModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0) + 1
        model = AgentModel.objects.create(
            version=version,
            account=account,
            created_by=actor[:64],
            training_data=data,
            metrics=metrics,
            notes=notes[:300],
            artifact=artifact.to_bytes(),
        )
    log.info(
        "agent-model-trained version=%s examples=%s accuracy_held_out=%s",
        version,
        len(shipped) + len(seller),
        metrics["held_out"]["intent_accuracy"],
    )
    if activate:
        model = model_activate(model=model, actor=actor)
    return Trained(model, metrics)


def held_out_metrics(artifact, examples) -> dict:
    """The model alone on examples it never saw: intent, the learned screens, calibration."""
    import numpy as np

    from inquiries.agent import training
    from inquiries.agent.normalize import normalize

    predictions = [artifact.predict(normalize(e.text)) for e in examples]
    intents = [p.intent for p in predictions]
    confidence = [
        artifact.confidence_calibration(training.confidence_raw(p.p_intent_correct, p.p_risk, p.p_person))
        for p in predictions
    ]
    outcome = training.send_as_is(examples, intents)
    risky = [p.p_risk >= artifact.risk_threshold for p, e in zip(predictions, examples, strict=True) if e.risk]
    clean = [p.p_risk >= artifact.risk_threshold for p, e in zip(predictions, examples, strict=True) if not e.risk]
    person = [
        p.p_person >= artifact.person_threshold for p, e in zip(predictions, examples, strict=True) if e.must_human
    ]
    flagged = [p.p_risk >= artifact.risk_threshold or p.p_person >= artifact.person_threshold for p in predictions]
    sweep = []
    for t in SWEEP_THRESHOLDS:
        sent = [c >= t and not f for c, f in zip(confidence, flagged, strict=True)]
        sweep.append(
            {
                "threshold": t,
                "automation": round(float(np.mean(sent)), 4),
                "risky_sent": sum(s for s, e in zip(sent, examples, strict=True) if e.risk),
                "must_human_sent": sum(s for s, e in zip(sent, examples, strict=True) if e.must_human),
                "wrong_intent_sent": sum(s for s, p, e in zip(sent, intents, examples, strict=True) if p != e.intent),
            }
        )
    return {
        "sweep": sweep,
        "examples": len(examples),
        "intent_accuracy": round(float(np.mean([p == e.intent for p, e in zip(intents, examples, strict=True)])), 4),
        "per_intent": training.per_intent([e.intent for e in examples], intents),
        "learned_risk_recall": round(float(np.mean(risky)), 4) if risky else None,
        "learned_risk_false_rate": round(float(np.mean(clean)), 4) if clean else None,
        "learned_person_recall": round(float(np.mean(person)), 4) if person else None,
        "expected_calibration_error": round(training.expected_calibration_error(confidence, outcome), 4),
        "reliability": training.reliability(confidence, outcome),
    }


@transaction.atomic
def model_activate(*, model: AgentModel, actor: str) -> AgentModel:
    """Make ``model`` the version its scope (its account, or every account) decides with."""
    AgentModel.objects.select_for_update().filter(account=model.account, is_active=True).exclude(pk=model.pk).update(
        is_active=False
    )
    AgentModel.objects.filter(pk=model.pk).update(is_active=True, activated_at=timezone.now(), activated_by=actor[:64])
    transaction.on_commit(_clear_agent_cache)
    model.refresh_from_db()
    log.info("agent-model-activated version=%s account=%s by=%s", model.version, model.account_id, actor)
    return model


@transaction.atomic
def model_rollback(*, account: MarketAccount | None = None, actor: str) -> AgentModel | None:
    """Go back to the version activated before the current one of this scope; none left: the rules."""
    current = AgentModel.objects.select_for_update().filter(account=account, is_active=True).first()
    if current is None:
        raise AgentModelError("no active version to roll back from")
    previous = (
        AgentModel.objects.filter(account=account, activated_at__isnull=False, version__lt=current.version)
        .order_by("-version")
        .first()
    )
    AgentModel.objects.filter(pk=current.pk).update(is_active=False)
    transaction.on_commit(_clear_agent_cache)
    log.info(
        "agent-model-rolled-back from=%s to=%s by=%s", current.version, previous.version if previous else None, actor
    )
    return model_activate(model=previous, actor=actor) if previous else None


def model_deactivate(*, model: AgentModel, actor: str) -> AgentModel:
    AgentModel.objects.filter(pk=model.pk).update(is_active=False)
    transaction.on_commit(_clear_agent_cache)
    log.info("agent-model-deactivated version=%s by=%s", model.version, actor)
    model.refresh_from_db()
    return model


def _clear_agent_cache() -> None:
    from inquiries.agent.loader import clear_cache

    clear_cache()
