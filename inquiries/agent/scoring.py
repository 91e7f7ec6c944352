"""Confidence: how likely the draft is an acceptable answer to this inquiry, in [0, 1].

It is built from two probabilities and a few explicit discounts, each recorded in the trace:

``p_intent``  how sure the classifier is: evidence strength ``1 − e^(−score)`` scaled by how clearly
              the winner beats the runner-up (margin); 0 when no pattern matched.
``p_answer``  whether the chosen knowledge entry answers it: ``0.7 + 0.3 × quality`` (one matching
              keyword → 0.85, three → 0.96).
discounts     two topics in one inquiry (×0.85), very short text (×0.75), very long text (×0.85), a
              request to look up *their* order that a general answer cannot do (×0.95).
cap           no relevant knowledge entry → at most 0.30 (``NO_KB_MATCH``). Nothing matched by the
              classifier gives ``p_intent = 0``, so confidence 0.

So 0.90 (the guide's default threshold) needs a clear single-topic question *and* an entry matching
it on two or three keywords. The evaluation test prints accuracy per confidence band to keep the
number honest.

Decision on order-specific questions: "제 주문 언제 와요?" gets the general shipping answer (how long
it takes and where to track it), which is a correct answer, so no discount. Only an explicit request
to look something up ("주문번호 …", "확인 부탁드려요", "조회해 주세요") is discounted: the general
answer is still useful but cannot be what they asked for.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from inquiries.agent.classify import Classification
from inquiries.agent.knowledge import KBMatch
from inquiries.agent.normalize import NormalizedText

# Reason codes scoring can give (the pipeline adds the others).
OK = "OK"
NO_KB_MATCH = "NO_KB_MATCH"
LOW_CONFIDENCE = "LOW_CONFIDENCE"

# Below this the agent itself says "a person should answer", whatever the policy threshold is.
AGENT_MIN_CONFIDENCE = 0.5
NO_KB_CAP = 0.30
LLM_NO_KB_CAP = 0.45

MIXED_FACTOR = 0.85
SHORT_FACTOR = 0.75
LONG_FACTOR = 0.85
LOOKUP_FACTOR = 0.95
LLM_DISAGREE_FACTOR = 0.85

SHORT_CHARS = 6  # compact characters: "배송요" says too little
LONG_CHARS = 300  # compact characters: several questions, a story, a complaint

_LOOKUP = re.compile(
    r"주문번호\d{6,}|\d{10,}|확인(?:좀)?(?:부탁|해주|해줘|해주세요|바랍니다|요망)|조회(?:좀)?(?:해주|해줘|부탁)|알아봐"
)


@dataclass(frozen=True)
class Score:
    confidence: float
    reason: str  # OK, NO_KB_MATCH or LOW_CONFIDENCE
    factors: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"confidence": self.confidence, "reason": self.reason, "factors": self.factors}


def intent_probability(classification: Classification) -> float:
    if not classification.matched_anything:
        return 0.0
    strength = 1.0 - math.exp(-classification.score)
    return 0.5 + 0.5 * strength * (0.4 + 0.6 * classification.margin)


def asks_lookup(text: NormalizedText) -> bool:
    return bool(_LOOKUP.search(text.compact))


def _discounts(classification: Classification, text: NormalizedText) -> dict[str, float]:
    factors: dict[str, float] = {}
    if classification.mixed:
        factors["mixed"] = MIXED_FACTOR
    size = len(text.compact)
    if size < SHORT_CHARS:
        factors["short"] = SHORT_FACTOR
    elif size > LONG_CHARS or text.truncated:
        factors["long"] = LONG_FACTOR
    if asks_lookup(text):
        factors["lookup"] = LOOKUP_FACTOR
    return factors


def _finish(factors: dict[str, float], *, cap: float | None = None, cap_reason: str = OK) -> Score:
    """Confidence is the product of the recorded factors, so the trace explains every number."""
    confidence = math.prod(factors.values())
    if cap is not None:
        confidence, reason = min(confidence, cap), cap_reason
    else:
        reason = LOW_CONFIDENCE if confidence < AGENT_MIN_CONFIDENCE else OK
    return Score(round(max(0.0, min(1.0, confidence)), 4), reason, {k: round(v, 4) for k, v in factors.items()})


def score_rules(classification: Classification, kb: KBMatch | None, text: NormalizedText) -> Score:
    """Confidence of a rules-backend draft."""
    factors = {
        "p_intent": intent_probability(classification),
        "p_answer": 0.7 + 0.3 * (kb.quality if kb else 0.0),
        **_discounts(classification, text),
    }
    if kb is None or not kb.is_relevant:
        return _finish(factors, cap=NO_KB_CAP, cap_reason=NO_KB_MATCH)
    return _finish(factors)


def score_llm(
    *,
    llm_confidence: float,
    llm_intent: str,
    classification: Classification,
    kb: KBMatch | None,
    text: NormalizedText,
) -> Score:
    """Confidence of an LLM draft: the model's own number, checked against what we can verify.

    The model's confidence is only an upper bound: disagreeing with the rules classifier (when the
    rules found something) and answering without a knowledge entry both pull it down, so a customer
    text that talks the model into a confident answer still cannot clear the threshold on its own.
    """
    factors: dict[str, float] = {"llm": max(0.0, min(1.0, llm_confidence))}
    if classification.matched_anything and llm_intent != classification.intent:
        factors["disagree"] = LLM_DISAGREE_FACTOR
    if kb is not None:
        factors["kb"] = 0.9 + 0.1 * kb.quality
    factors.update(_discounts(classification, text))
    if kb is None:
        return _finish(factors, cap=LLM_NO_KB_CAP, cap_reason=NO_KB_MATCH)
    return _finish(factors)


def score_grounded(
    classification: Classification, p_answer: float, text: NormalizedText, *, order_facts: bool = False
) -> Score:
    """Confidence of a draft written from facts (:mod:`inquiries.agent.grounding`).

    ``p_answer`` is grounding's own measure of how directly the facts answer the question. A request
    to look something up is no discount here when the answer states the order itself: it did.
    """
    factors = {"p_intent": intent_probability(classification), "p_answer": p_answer, **_discounts(classification, text)}
    if order_facts:
        factors.pop("lookup", None)
    return _finish(factors)


def model_classification(prediction) -> Classification:
    """The trained model's intent reading in the classifier's shape (for the trace and the LLM path)."""
    ranked = sorted(prediction.intent_probs.items(), key=lambda kv: -kv[1])
    top, p = ranked[0]
    runner, q = ranked[1] if len(ranked) > 1 else (None, 0.0)
    return Classification(
        top,
        round(p, 4),
        runner,
        round(q, 4),
        round((p - q) / p, 4) if p else 0.0,
        False,
        {},
        dict(prediction.intent_probs),
    )


def score_model(prediction, model, *, kind: str, prior: float, answer_factor: float, answer_source: str) -> Score:
    """Confidence with a trained model: the calibrated probability that a person sends the draft as it is.

    The model's map (fitted out of fold on labelled data: right intent, nothing risky, nothing only a
    person may grant) times what a draft of this kind is believed to be worth (``prior``), mapped through
    the kind's calibration (fitted by cross-validating the whole agent with facts), then moved by how
    people actually treated drafts of this kind (``answer_factor``: observed agreement blended with the
    prior, :mod:`inquiries.agent.confidence`; equal to the prior until people have reviewed some).
    """
    from inquiries.agent.training_math import confidence_input

    base = model.confidence_calibration(
        confidence_input(prediction.p_intent_correct, prediction.p_risk, prediction.p_person)
    )
    pre = base * prior
    calibration = model.answer_calibration.get(kind)
    calibrated = calibration(pre) if calibration is not None else pre
    confidence = calibrated * (answer_factor / prior if prior > 0 else 1.0)
    factors = {
        "model": round(base, 4),
        "prior": round(prior, 4),
        "pre": round(pre, 6),
        "calibrated": round(calibrated, 4),
        "answer": round(answer_factor, 4),
        "answer_source": answer_source,
    }
    confidence = round(max(0.0, min(1.0, confidence)), 4)
    return Score(confidence, LOW_CONFIDENCE if confidence < AGENT_MIN_CONFIDENCE else OK, factors)
