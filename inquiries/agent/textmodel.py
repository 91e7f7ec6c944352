"""The trained text models at run time: features, linear scorers and calibration maps, in plain numpy.

Training (``inquiries.agent.training``, scikit-learn) writes an :class:`AgentModelArtifact`; deciding only
reads it, so a worker never imports scikit-learn and a decision costs one feature extraction and three
small matrix products (intent, risk screen, needs-a-person screen).

Features of a text (its normalized forms, :mod:`inquiries.agent.normalize`):

* ``c2:``, ``c3:`` character bigrams and trigrams of the compact form (spacing-insensitive: "배송언제" =
  "배송 언제"; single characters measured no better and cost a fifth of the time);
* ``b2:``…``b4:`` character n-grams of each word with its boundaries (" 배송 " tells a word start);
* ``w:`` whole words.

Weights are sublinear term frequency × idf, L2-normalized, as scikit-learn's ``TfidfTransformer`` does
with ``sublinear_tf=True`` (the training code uses exactly this function to build its matrices).
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from inquiries.agent.normalize import NormalizedText, normalize, strip_framing

FORMAT_VERSION = 2  # 2: no single-character features
# The version every new installation starts with (installed active by migration 0014), trained from the
# shipped labelled data only by scripts/build_shipped_model.py.
SHIPPED_MODEL = Path(__file__).resolve().parent / "data" / "shipped-model.npz"
_WORD = re.compile(r"[^\w]+")


def features(text: NormalizedText | str) -> dict[str, int]:
    """Feature → count for one text."""
    nt = text if isinstance(text, NormalizedText) else normalize(text)
    compact = strip_framing(nt.compact)
    keys = [f"c2:{compact[i : i + 2]}" for i in range(len(compact) - 1)]
    keys += [f"c3:{compact[i : i + 3]}" for i in range(len(compact) - 2)]
    for token in _WORD.split(strip_framing(nt.match)):
        if not token:
            continue
        bounded = f" {token} "
        keys.append(f"w:{token}")
        keys += [f"b2:{bounded[i : i + 2]}" for i in range(len(bounded) - 1)]
        keys += [f"b3:{bounded[i : i + 3]}" for i in range(len(bounded) - 2)]
        keys += [f"b4:{bounded[i : i + 4]}" for i in range(len(bounded) - 3)]
    return Counter(keys)


@dataclass(frozen=True)
class Vectorizer:
    """Feature names → columns, with the idf of each column.

    Trained, it holds the names (``vocabulary``). Loaded for deciding (:meth:`for_deciding`), it holds
    only each name's ``hash`` in this process, sorted, with its column: tens of thousands of feature
    strings would take several megabytes of every worker for a dictionary lookup a sorted search does.
    """

    vocabulary: dict[str, int] | None
    idf: np.ndarray  # float32, one per column
    hashes: np.ndarray | None = None  # int64, sorted: hash(name) of every column's name
    hash_columns: np.ndarray | None = None  # int64: the column of each entry of ``hashes``

    @classmethod
    def for_deciding(cls, names: Sequence[str], idf: np.ndarray) -> Vectorizer:
        hashes = np.fromiter(map(hash, names), dtype=np.int64, count=len(names))
        order = np.argsort(hashes)
        return cls(None, idf, hashes[order], order.astype(np.int64))

    def __len__(self) -> int:
        return len(self.idf)

    def columns(self, names: Iterable[str], n: int) -> np.ndarray:
        """The column of each of ``n`` feature names; -1 for a name the model does not know."""
        if self.vocabulary is not None:
            return np.fromiter(map(self.vocabulary.get, names, repeat(-1, n)), dtype=np.int64, count=n)
        # Without a vocabulary the vectorizer was made by for_deciding(), which sets both.
        assert self.hashes is not None and self.hash_columns is not None
        hashed = np.fromiter(map(hash, names), dtype=np.int64, count=n)
        at = np.minimum(np.searchsorted(self.hashes, hashed), len(self.hashes) - 1)
        return np.where(self.hashes[at] == hashed, self.hash_columns[at], -1)

    def transform_one(self, counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, weights) of one text's non-zero features."""
        n = len(counts)
        if not n:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cols = self.columns(counts, n)
        known = cols >= 0
        if not known.any():
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        index = cols[known]
        tf = np.fromiter(counts.values(), dtype=np.float32, count=n)[known]
        weights = (np.log(tf) + np.float32(1.0)) * self.idf[index]
        norm = float(np.sqrt(np.dot(weights, weights)))
        return index, (weights / norm if norm else weights)


@dataclass(frozen=True)
class LinearScorer:
    """``classes × columns`` weights and intercepts; binary scorers have one row (the positive class)."""

    classes: tuple[str, ...]
    coef: np.ndarray  # float32 [k, columns]
    intercept: np.ndarray  # float32 [k]


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
        return {
            "intent": self.intent,
            "p_intent": round(self.p_intent, 4),
            "p_intent_correct": round(self.p_intent_correct, 4),
            "p_risk": round(self.p_risk, 4),
            "p_person": round(self.p_person, 4),
            "top": [[k, round(v, 4)] for k, v in top],
        }


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

    @cached_property
    def _stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """Every scorer's weights as one ``columns × (intents + 2)`` matrix (a text's columns are then one
        contiguous gather and one product) and their intercepts."""
        coef = np.vstack([self.intent.coef, self.risk.coef[-1:], self.person.coef[-1:]])
        return np.ascontiguousarray(coef.T), np.concatenate(
            [self.intent.intercept, self.risk.intercept[-1:], self.person.intercept[-1:]]
        )

    def predict(self, text: NormalizedText, counts: dict[str, int] | None = None) -> Prediction:
        """``counts``: the text's :func:`features` when the caller has them already."""
        index, weights = self.vectorizer.transform_one(features(text) if counts is None else counts)
        coef, intercept = self._stacked
        z = weights @ coef[index] + intercept
        k = len(self.intent.classes)
        e = np.exp(z[:k] - z[:k].max())
        p = e / e.sum()
        best = int(p.argmax())
        probs = dict(zip(self.intent.classes, p.tolist(), strict=True))
        p_risk, p_person = (1.0 / (1.0 + np.exp(-z[k:]))).tolist()
        p_intent = probs[self.intent.classes[best]]
        return Prediction(
            probs, self.intent.classes[best], p_intent, self.intent_calibration(p_intent), p_risk, p_person
        )

    # -- storage ----------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        if self.vectorizer.vocabulary is None:
            raise ValueError("a version loaded for deciding keeps no feature names: store the trained one")
        names = sorted(self.vectorizer.vocabulary, key=self.vectorizer.vocabulary.__getitem__)
        meta = {
            "format": FORMAT_VERSION,
            "vocabulary": names,
            "intent_classes": list(self.intent.classes),
            "risk_classes": list(self.risk.classes),
            "person_classes": list(self.person.classes),
            "intent_calibration": self.intent_calibration.as_dict(),
            "confidence_calibration": self.confidence_calibration.as_dict(),
            "risk_threshold": self.risk_threshold,
            "person_threshold": self.person_threshold,
            "meta": self.meta,
            "answer_calibration": {kind: c.as_dict() for kind, c in sorted(self.answer_calibration.items())},
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            idf=self.vectorizer.idf,
            intent_coef=self.intent.coef,
            intent_intercept=self.intent.intercept,
            risk_coef=self.risk.coef,
            risk_intercept=self.risk.intercept,
            person_coef=self.person.coef,
            person_intercept=self.person.intercept,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AgentModelArtifact:
        """A version ready for deciding: every scorer's weights in one matrix (the scorers' ``coef`` are
        views of it) and the vocabulary as hashes (:meth:`Vectorizer.for_deciding`)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"model format {meta.get('format')} is not {FORMAT_VERSION}; train it again")
            names = ("intent", "risk", "person")
            coefs = [arrays[f"{name}_coef"].astype(np.float32) for name in names]
            intercepts = [arrays[f"{name}_intercept"].astype(np.float32) for name in names]
            idf = arrays["idf"].astype(np.float32)
        stacked = np.ascontiguousarray(np.vstack([coefs[0], coefs[1][-1:], coefs[2][-1:]]).T)  # columns × scores
        del coefs
        k = len(meta["intent_classes"])
        views = {"intent": stacked[:, :k].T, "risk": stacked[:, k : k + 1].T, "person": stacked[:, k + 1 : k + 2].T}
        scorers = {
            name: LinearScorer(
                tuple(meta[f"{name}_classes"]), views[name], intercept if name == "intent" else intercept[-1:]
            )
            for name, intercept in zip(names, intercepts, strict=True)
        }
        artifact = cls(
            vectorizer=Vectorizer.for_deciding(meta["vocabulary"], idf),
            intent=scorers["intent"],
            risk=scorers["risk"],
            person=scorers["person"],
            intent_calibration=Calibration(
                tuple(meta["intent_calibration"]["x"]), tuple(meta["intent_calibration"]["y"])
            ),
            confidence_calibration=Calibration(
                tuple(meta["confidence_calibration"]["x"]), tuple(meta["confidence_calibration"]["y"])
            ),
            risk_threshold=float(meta["risk_threshold"]),
            person_threshold=float(meta["person_threshold"]),
            meta=meta.get("meta") or {},
            answer_calibration={
                kind: Calibration(tuple(c["x"]), tuple(c["y"]))
                for kind, c in (meta.get("answer_calibration") or {}).items()
            },
        )
        artifact.__dict__["_stacked"] = (
            stacked,
            np.concatenate([intercepts[0], intercepts[1][-1:], intercepts[2][-1:]]),
        )
        return artifact


def vectorize_many(vectorizer: Vectorizer, texts: Iterable[str]) -> tuple[list[int], list[int], list[float]]:
    """(rows, columns, values) of many texts, for building a sparse matrix when training."""
    rows, cols, values = [], [], []
    for r, text in enumerate(texts):
        index, weights = vectorizer.transform_one(features(text))
        rows += [r] * len(index)
        cols += index.tolist()
        values += weights.tolist()
    return rows, cols, values
