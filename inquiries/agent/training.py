"""Training the agent's text models with scikit-learn (only ``train_agent`` imports this module).

From labelled examples (the shipped set's training part and the seller's own labels) it fits:

* the intent model: multinomial logistic regression on :func:`inquiries.agent.textmodel.features`;
* the learned risk screen and the needs-a-person screen: binary logistic regressions whose thresholds
  are set, on out-of-fold predictions, for a recall of at least :data:`SCREEN_RECALL`;
* calibration: how often an intent said with probability p is right (isotonic, out-of-fold), and the
  final confidence map — the probability that a person sends the draft as it is — fitted on
  out-of-fold predictions against "right intent, nothing risky, nothing only a person may grant".

Every figure reported comes from data the model being measured did not see (out-of-fold predictions,
or a held-out split made before fitting).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

from inquiries.agent.textmodel import (
    AgentModelArtifact,
    Calibration,
    LinearScorer,
    Vectorizer,
    features,
    vectorize_many,
)
from inquiries.agent.training_math import confidence_input

DATA_DIR = Path(__file__).resolve().parent / "data"
SCREEN_RECALL = 0.95  # the learned screens are set to catch at least this share of their class (out of fold)
MAX_SCREEN_THRESHOLD = 0.5
INTENT_C = 10.0
SCREEN_C = 10.0
FOLDS = 5
SELLER_WEIGHT = 3.0  # a label the seller's own people gave counts more than a shipped example
ECE_BINS = 10
MIN_DF = 2  # a feature seen in one training text only is noise (and doubles the stored model)


@dataclass(frozen=True)
class Example:
    id: str
    text: str  # title and content as the agent reads them
    intent: str
    risk: str | None = None
    must_human: str | None = None
    weight: float = 1.0
    source: str = "shipped"
    topic: str = ""
    person_labelled: bool = True  # whether must_human was labelled at all (older data only labels risk)
    risk_labelled: bool = True  # whether risk was labelled (a seller's intent correction says nothing of it)


def example_text(row: Mapping[str, Any]) -> str:
    title = (row.get("title") or "").strip()
    content = row.get("content") or ""
    return f"{title}\n{content}" if title else content


def example_from_row(row: dict, *, source: str = "shipped", weight: float = 1.0) -> Example:
    risk = row.get("risk")
    if risk is None and row.get("risky"):  # the older set marks risk with a flag and a category
        risk = row.get("risk_category") or "RISK"
    return Example(
        str(row["id"]),
        example_text(row),
        row["intent"],
        risk or None,
        row.get("must_human") or None,
        weight,
        source,
        row.get("topic") or "",
        person_labelled="must_human" in row,
    )


def shipped_rows() -> Iterator[tuple[str, dict]]:
    """(file stem, row) of the shipped labelled data: every ``*.jsonl`` under ``inquiries/agent/data`` —
    never a row whose ``split`` is ``holdout`` (kept for measuring, never trained or tuned on)."""
    for path in sorted(DATA_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("split") != "holdout":
                    yield path.stem, row


def shipped_examples() -> list[Example]:
    """The shipped labelled data as training examples (:func:`shipped_rows`)."""
    return [example_from_row(row, source=f"shipped:{stem}") for stem, row in shipped_rows()]


def data_fingerprint(examples: Sequence[Example]) -> str:
    """What a trained version depends on besides the code of the learners: the examples as read, the
    features extracted from them and the training settings. The shipped model records the fingerprint it
    was trained at; a test compares it with the data in the tree."""
    digest = hashlib.sha256()
    settings = [MIN_DF, INTENT_C, SCREEN_C, SCREEN_RECALL, MAX_SCREEN_THRESHOLD, FOLDS, SELLER_WEIGHT]
    digest.update(json.dumps(settings).encode())
    for e in examples:
        digest.update(
            json.dumps(
                [
                    e.id,
                    e.text,
                    e.intent,
                    e.risk,
                    e.must_human,
                    e.weight,
                    e.source,
                    e.person_labelled,
                    e.risk_labelled,
                    sorted(features(e.text).items()),
                ],
                ensure_ascii=False,
            ).encode("utf-8")
        )
    return digest.hexdigest()


# --- fitting ---------------------------------------------------------------------------------------------


def fit_vectorizer(texts: Sequence[str], *, min_df: int = MIN_DF) -> Vectorizer:
    """Vocabulary and smooth idf (``ln((1+n)/(1+df)) + 1``, scikit-learn's) from the training texts."""
    df: Counter[str] = Counter()
    for text in texts:
        df.update(features(text).keys())
    names = sorted(name for name, count in df.items() if count >= min_df)
    n = len(texts)
    idf = np.asarray([math.log((1 + n) / (1 + df[name])) + 1.0 for name in names], dtype=np.float32)
    return Vectorizer({name: i for i, name in enumerate(names)}, idf)


def matrix(vectorizer: Vectorizer, texts: Sequence[str]) -> csr_matrix:
    rows, cols, values = vectorize_many(vectorizer, texts)
    return csr_matrix((values, (rows, cols)), shape=(len(texts), len(vectorizer.idf)), dtype=np.float32)


def _logistic(C: float, *, balanced: bool = True) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=5000, class_weight="balanced" if balanced else None)


def _scorer(model: LogisticRegression, *, binary: bool) -> LinearScorer:
    classes = tuple(str(c) for c in model.classes_)
    coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    return LinearScorer(classes[-1:] if binary else classes, coef, intercept)


def _isotonic(raw: np.ndarray, outcome: np.ndarray) -> Calibration:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, outcome)
    xs = np.asarray(iso.X_thresholds_, dtype=float)
    ys = np.asarray(iso.y_thresholds_, dtype=float)
    if len(xs) < 2:
        return Calibration((0.0, 1.0), (float(ys[0]) if len(ys) else 0.0,) * 2)
    return Calibration(tuple(float(v) for v in xs), tuple(float(v) for v in ys))


ANSWER_CALIBRATION_MIN = 40  # rows of one answer kind needed to fit its map (fewer: the confidence is left as is)
SHRINK = 2.0  # each step of an answer-kind map is pulled toward the kind's mean as if by this many rows


def fit_answer_calibration(
    pre: Sequence[float], kinds: Sequence[str], outcome: Sequence[float]
) -> dict[str, Calibration]:
    """Per answer kind, an isotonic map from the confidence before calibration to how often drafts of that
    kind were sent as is; each step is shrunk toward the kind's mean so a short run of hits is no 1.0."""
    pre_a, out_a = np.asarray(pre, dtype=float), np.asarray(outcome, dtype=float)
    maps = {}
    for kind in sorted(set(kinds)):
        mask = np.asarray([k == kind for k in kinds])
        if mask.sum() < ANSWER_CALIBRATION_MIN:
            continue
        x, y = pre_a[mask], out_a[mask]
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
        fitted = iso.predict(x)
        mean = float(y.mean())
        steps = {}
        for value in np.unique(fitted):
            members = fitted == value
            steps[float(value)] = (float(y[members].sum()) + SHRINK * mean) / (float(members.sum()) + SHRINK)
        xs = np.asarray(iso.X_thresholds_, dtype=float)
        keys = np.asarray(sorted(steps))
        stepped = [steps[float(keys[np.abs(keys - v).argmin()])] for v in iso.predict(xs)]
        ys = np.maximum.accumulate(np.asarray(stepped))  # shrinking keeps it monotone; this guards rounding
        maps[kind] = (
            Calibration(tuple(float(v) for v in xs), tuple(round(float(v), 6) for v in ys))
            if len(xs) >= 2
            else Calibration((0.0, 1.0), (round(mean, 6),) * 2)
        )
    return maps


def screen_threshold(prob: np.ndarray, positive: np.ndarray, recall: float = SCREEN_RECALL) -> float:
    """The highest threshold that still catches ``recall`` of the positives (never above the maximum)."""
    scores = np.sort(prob[positive])
    if len(scores) == 0:
        return MAX_SCREEN_THRESHOLD
    k = int(math.floor((1.0 - recall) * len(scores)))
    return float(min(MAX_SCREEN_THRESHOLD, scores[k] - 1e-6))


@dataclass
class _Fitted:
    vectorizer: Vectorizer
    intent: LogisticRegression
    risk: LogisticRegression
    person: LogisticRegression


def _fit(examples: Sequence[Example]) -> _Fitted:
    texts = [e.text for e in examples]
    vectorizer = fit_vectorizer(texts)
    X = matrix(vectorizer, texts)
    w = np.asarray([e.weight for e in examples])
    intent = _logistic(INTENT_C).fit(X, [e.intent for e in examples], sample_weight=w)
    rl = np.asarray([e.risk_labelled for e in examples])
    risk = _logistic(SCREEN_C).fit(X[rl], [int(bool(e.risk)) for e in examples if e.risk_labelled], sample_weight=w[rl])
    labelled = np.asarray([e.person_labelled for e in examples])
    person = _logistic(SCREEN_C).fit(
        X[labelled], [int(bool(e.must_human)) for e in examples if e.person_labelled], sample_weight=w[labelled]
    )
    return _Fitted(vectorizer, intent, risk, person)


@dataclass
class OutOfFold:
    """Out-of-fold predictions for every training example."""

    intent: list[str]
    p_intent: np.ndarray
    p_risk: np.ndarray
    p_person: np.ndarray


def out_of_fold(examples: Sequence[Example], *, folds: int = FOLDS, seed: int = 0) -> OutOfFold:
    n = len(examples)
    intents = [e.intent for e in examples]
    predicted = [""] * n
    p_intent, p_risk, p_person = np.zeros(n), np.zeros(n), np.zeros(n)
    counts = Counter(intents)
    strata = [i if counts[i] >= folds else "_rare" for i in intents]
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(n), strata):
        fitted = _fit([examples[i] for i in train_idx])
        X = matrix(fitted.vectorizer, [examples[i].text for i in test_idx])
        P = fitted.intent.predict_proba(X)
        best = P.argmax(1)
        for k, i in enumerate(test_idx):
            predicted[i] = str(fitted.intent.classes_[best[k]])
            p_intent[i] = P[k, best[k]]
        p_risk[test_idx] = fitted.risk.predict_proba(X)[:, 1]
        p_person[test_idx] = fitted.person.predict_proba(X)[:, 1]
    return OutOfFold(predicted, p_intent, p_risk, p_person)


def confidence_raw(p_intent_correct: np.ndarray, p_risk: np.ndarray, p_person: np.ndarray) -> np.ndarray:
    """What the final confidence map is fitted on (the same formula the pipeline applies)."""
    return confidence_input(p_intent_correct, p_risk, p_person)


def send_as_is(examples: Sequence[Example], intents: Sequence[str]) -> np.ndarray:
    """The outcome confidence predicts, on labelled data: the intent is right and nothing makes it a
    person's (risk or a request only a person may grant)."""
    return np.asarray(
        [float(p == e.intent and not e.risk and not e.must_human) for e, p in zip(examples, intents, strict=True)]
    )


def train(examples: Sequence[Example], *, seed: int = 0, meta: dict | None = None) -> tuple[AgentModelArtifact, dict]:
    """Fit every model on ``examples``; calibration and screen thresholds come from out-of-fold predictions."""
    oof = out_of_fold(examples, seed=seed)
    correct = np.asarray([float(p == e.intent) for e, p in zip(examples, oof.intent, strict=True)])
    intent_calibration = _isotonic(oof.p_intent, correct)
    p_correct = np.asarray([intent_calibration(v) for v in oof.p_intent])
    confidence_calibration = _isotonic(
        confidence_raw(p_correct, oof.p_risk, oof.p_person), send_as_is(examples, oof.intent)
    )
    rl = np.asarray([e.risk_labelled for e in examples])
    risk_threshold = screen_threshold(oof.p_risk[rl], np.asarray([bool(e.risk) for e in examples if e.risk_labelled]))
    labelled = np.asarray([e.person_labelled for e in examples])
    person_threshold = screen_threshold(
        oof.p_person[labelled], np.asarray([bool(e.must_human) for e in examples if e.person_labelled])
    )
    fitted = _fit(examples)
    artifact = AgentModelArtifact(
        vectorizer=fitted.vectorizer,
        intent=_scorer(fitted.intent, binary=False),
        risk=_scorer(fitted.risk, binary=True),
        person=_scorer(fitted.person, binary=True),
        intent_calibration=intent_calibration,
        confidence_calibration=confidence_calibration,
        risk_threshold=risk_threshold,
        person_threshold=person_threshold,
        meta={
            **(meta or {}),
            "examples": len(examples),
            "seed": seed,
            "sources": dict(Counter(e.source for e in examples)),
        },
    )
    metrics = {
        "out_of_fold": oof_metrics(
            examples, oof, intent_calibration, confidence_calibration, risk_threshold, person_threshold
        )
    }
    return artifact, metrics


def split_for_evaluation(examples: Sequence[Example], *, share: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """A stratified held-out part of the training data, made before anything is fitted."""
    intents = [e.intent for e in examples]
    counts = Counter(intents)
    strata = [i if counts[i] >= 2 else "_rare" for i in intents]
    train_part, held_out = train_test_split(list(examples), test_size=share, random_state=seed, stratify=strata)
    return list(train_part), list(held_out)


# --- figures -------------------------------------------------------------------------------------------------


def expected_calibration_error(confidence: Iterable[float], outcome: Iterable[float], bins: int = ECE_BINS) -> float:
    conf, out = np.asarray(list(confidence), dtype=float), np.asarray(list(outcome), dtype=float)
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(conf[mask].mean() - out[mask].mean())
    return float(error)


def reliability(confidence: Iterable[float], outcome: Iterable[float], bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin: how many, the mean confidence, and how often the outcome happened."""
    conf, out = np.asarray(list(confidence), dtype=float), np.asarray(list(outcome), dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1) if len(conf) else np.zeros(0, dtype=int)
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append(
            {
                "low": round(float(edges[b]), 2),
                "high": round(float(edges[b + 1]), 2),
                "n": int(mask.sum()),
                "confidence": round(float(conf[mask].mean()), 4) if mask.any() else None,
                "observed": round(float(out[mask].mean()), 4) if mask.any() else None,
            }
        )
    return rows


def per_intent(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict]:
    out = {}
    for intent in sorted(set(truth) | set(predicted)):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == intent and p == intent)
        said = sum(1 for p in predicted if p == intent)
        real = sum(1 for t in truth if t == intent)
        out[intent] = {
            "precision": round(tp / said, 4) if said else None,
            "recall": round(tp / real, 4) if real else None,
            "support": real,
        }
    return out


def oof_metrics(
    examples: Sequence[Example],
    oof: OutOfFold,
    intent_calibration: Calibration,
    confidence_calibration: Calibration,
    risk_threshold: float,
    person_threshold: float,
) -> dict:
    truth = [e.intent for e in examples]
    p_correct = np.asarray([intent_calibration(v) for v in oof.p_intent])
    confidence = np.asarray([confidence_calibration(v) for v in confidence_raw(p_correct, oof.p_risk, oof.p_person)])
    outcome = send_as_is(examples, oof.intent)
    rl, pl = np.asarray([e.risk_labelled for e in examples]), np.asarray([e.person_labelled for e in examples])
    risky = np.asarray([bool(e.risk) for e in examples])
    person = np.asarray([bool(e.must_human) for e in examples])

    def share(values: np.ndarray) -> float | None:
        return round(float(values.mean()), 4) if len(values) else None

    return {
        "examples": len(examples),
        "intent_accuracy": round(float(np.mean([t == p for t, p in zip(truth, oof.intent, strict=True)])), 4),
        "per_intent": per_intent(truth, oof.intent),
        "risk_screen_recall": share(oof.p_risk[rl & risky] >= risk_threshold),
        "risk_screen_false_rate": share(oof.p_risk[rl & ~risky] >= risk_threshold),
        "person_screen_recall": share(oof.p_person[pl & person] >= person_threshold),
        "person_screen_false_rate": share(oof.p_person[pl & ~person] >= person_threshold),
        "expected_calibration_error": round(expected_calibration_error(confidence, outcome), 4),
        "reliability": reliability(confidence, outcome),
    }
