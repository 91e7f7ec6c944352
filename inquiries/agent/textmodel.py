"""The trained text models at run time: features, linear scorers and calibration maps, in plain numpy.

Training (``inquiries.agent.training``, scikit-learn) writes an :class:`AgentModelArtifact`; deciding only
reads it, so a worker never imports scikit-learn and a decision costs one feature extraction and three
small matrix products (intent, risk screen, needs-a-person screen).

Features of a text (its normalized forms, :mod:`inquiries.agent.normalize`):

* ``c1:``…``c3:`` character n-grams of the compact form (spacing-insensitive: "배송언제" = "배송 언제");
* ``b2:``…``b4:`` character n-grams of each word with its boundaries (" 배송 " tells a word start);
* ``w:`` whole words.

Weights are sublinear term frequency × idf, L2-normalized, as scikit-learn's ``TfidfTransformer`` does
with ``sublinear_tf=True`` (the training code uses exactly this function to build its matrices).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inquiries.agent.normalize import NormalizedText, normalize, strip_framing

FORMAT_VERSION = 1
# The version every new installation starts with (installed active by migration 0014), trained from the
# shipped labelled data only by scripts/build_shipped_model.py.
SHIPPED_MODEL = Path(__file__).resolve().parent / "data" / "shipped-model.npz"
_WORD = re.compile(r"[^\w]+")


def features(text: NormalizedText | str) -> dict[str, int]:
    """Feature → count for one text."""
    nt = text if isinstance(text, NormalizedText) else normalize(text)
    counts: dict[str, int] = {}
    compact = strip_framing(nt.compact)
    for n in (1, 2, 3):
        for i in range(len(compact) - n + 1):
            key = f"c{n}:{compact[i:i + n]}"
            counts[key] = counts.get(key, 0) + 1
    for token in _WORD.split(strip_framing(nt.match)):
        if not token:
            continue
        key = f"w:{token}"
        counts[key] = counts.get(key, 0) + 1
        bounded = f" {token} "
        for n in (2, 3, 4):
            for i in range(len(bounded) - n + 1):
                key = f"b{n}:{bounded[i:i + n]}"
                counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(frozen=True)
class Vectorizer:
    """Feature names → columns, with the idf of each column."""

    vocabulary: dict[str, int]
    idf: np.ndarray  # float32, one per column

    def transform_one(self, counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, weights) of one text's non-zero features."""
        vocab = self.vocabulary
        cols, values = [], []
        for name, count in counts.items():
            col = vocab.get(name)
            if col is not None:
                cols.append(col)
                values.append(1.0 + math.log(count))
        if not cols:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        index = np.asarray(cols, dtype=np.int64)
        weights = np.asarray(values, dtype=np.float32) * self.idf[index]
        norm = float(np.sqrt(np.dot(weights, weights)))
        return index, (weights / norm if norm else weights)


@dataclass(frozen=True)
class LinearScorer:
    """``classes × columns`` weights and intercepts; binary scorers have one row (the positive class)."""

    classes: tuple[str, ...]
    coef: np.ndarray  # float32 [k, columns]
    intercept: np.ndarray  # float32 [k]

    def scores(self, index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.coef[:, index] @ weights + self.intercept

    def probabilities(self, index: np.ndarray, weights: np.ndarray) -> dict[str, float]:
        z = self.scores(index, weights)
        if len(self.classes) == 1 or self.coef.shape[0] == 1:
            return {self.classes[-1]: float(1.0 / (1.0 + math.exp(-float(z[0]))))}
        z = z - z.max()
        e = np.exp(z)
        p = e / e.sum()
        return {c: float(v) for c, v in zip(self.classes, p, strict=True)}


@dataclass(frozen=True)
class Calibration:
    """A monotone map from a raw score in [0, 1] to an observed frequency (isotonic regression's steps)."""

    x: tuple[float, ...] = (0.0, 1.0)
    y: tuple[float, ...] = (0.0, 1.0)

    def __call__(self, value: float) -> float:
        return float(np.interp(value, self.x, self.y))

    def as_dict(self) -> dict[str, list[float]]:
        return {"x": [round(v, 6) for v in self.x], "y": [round(v, 6) for v in self.y]}


@dataclass(frozen=True)
class Prediction:
    intent_probs: dict[str, float]
    intent: str
    p_intent: float  # the model's probability of its intent
    p_intent_correct: float  # calibrated: how often an intent said with p_intent is right
    p_risk: float  # the learned risk screen's probability
    p_person: float  # the learned needs-a-person screen's probability

    def as_dict(self) -> dict[str, Any]:
        top = sorted(self.intent_probs.items(), key=lambda kv: -kv[1])[:3]
        return {"intent": self.intent, "p_intent": round(self.p_intent, 4),
                "p_intent_correct": round(self.p_intent_correct, 4), "p_risk": round(self.p_risk, 4),
                "p_person": round(self.p_person, 4), "top": [[k, round(v, 4)] for k, v in top]}


@dataclass(frozen=True)
class AgentModelArtifact:
    """Everything a trained model version carries (stored as bytes in ``AgentModel.artifact``)."""

    vectorizer: Vectorizer
    intent: LinearScorer
    risk: LinearScorer
    person: LinearScorer
    intent_calibration: Calibration
    confidence_calibration: Calibration  # the pipeline's final confidence map (see inquiries.agent.scoring)
    risk_threshold: float  # the learned risk screen fires at or above this probability
    person_threshold: float
    meta: dict[str, Any] = field(default_factory=dict)
    # answer kind → map from the confidence before it (the model's times the kind's prior) to how often
    # such drafts were right, fitted by cross-validating the whole agent with facts (policy.cross_validation)
    answer_calibration: dict[str, Calibration] = field(default_factory=dict)

    def predict(self, text: NormalizedText) -> Prediction:
        index, weights = self.vectorizer.transform_one(features(text))
        probs = self.intent.probabilities(index, weights)
        intent = max(probs, key=probs.__getitem__)
        p_risk = next(iter(self.risk.probabilities(index, weights).values()))
        p_person = next(iter(self.person.probabilities(index, weights).values()))
        return Prediction(probs, intent, probs[intent], self.intent_calibration(probs[intent]), p_risk, p_person)

    # -- storage ----------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        names = sorted(self.vectorizer.vocabulary, key=self.vectorizer.vocabulary.__getitem__)
        meta = {
            "format": FORMAT_VERSION, "vocabulary": names, "intent_classes": list(self.intent.classes),
            "risk_classes": list(self.risk.classes), "person_classes": list(self.person.classes),
            "intent_calibration": self.intent_calibration.as_dict(),
            "confidence_calibration": self.confidence_calibration.as_dict(),
            "risk_threshold": self.risk_threshold, "person_threshold": self.person_threshold, "meta": self.meta,
            "answer_calibration": {kind: c.as_dict() for kind, c in sorted(self.answer_calibration.items())},
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            idf=self.vectorizer.idf, intent_coef=self.intent.coef, intent_intercept=self.intent.intercept,
            risk_coef=self.risk.coef, risk_intercept=self.risk.intercept, person_coef=self.person.coef,
            person_intercept=self.person.intercept,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AgentModelArtifact:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"model format {meta.get('format')} is not {FORMAT_VERSION}; train it again")

            def scorer(name: str, classes: Sequence[str]) -> LinearScorer:
                return LinearScorer(tuple(classes), arrays[f"{name}_coef"].astype(np.float32),
                                    arrays[f"{name}_intercept"].astype(np.float32))

            return cls(
                vectorizer=Vectorizer({n: i for i, n in enumerate(meta["vocabulary"])}, arrays["idf"].astype(np.float32)),
                intent=scorer("intent", meta["intent_classes"]), risk=scorer("risk", meta["risk_classes"]),
                person=scorer("person", meta["person_classes"]),
                intent_calibration=Calibration(tuple(meta["intent_calibration"]["x"]), tuple(meta["intent_calibration"]["y"])),
                confidence_calibration=Calibration(tuple(meta["confidence_calibration"]["x"]),
                                                   tuple(meta["confidence_calibration"]["y"])),
                risk_threshold=float(meta["risk_threshold"]), person_threshold=float(meta["person_threshold"]),
                meta=meta.get("meta") or {},
                answer_calibration={kind: Calibration(tuple(c["x"]), tuple(c["y"]))
                                    for kind, c in (meta.get("answer_calibration") or {}).items()},
            )


def vectorize_many(vectorizer: Vectorizer, texts: Iterable[str]) -> tuple[list[int], list[int], list[float]]:
    """(rows, columns, values) of many texts, for building a sparse matrix when training."""
    rows, cols, values = [], [], []
    for r, text in enumerate(texts):
        index, weights = vectorizer.transform_one(features(text))
        rows += [r] * len(index)
        cols += index.tolist()
        values += weights.tolist()
    return rows, cols, values
