"""The agent's evaluation set: hand-written Korean inquiries through the rules pipeline (seed data).

tests/data/eval_inquiries.jsonl, one object a line: id, content, title?, product_name?, intent, risky,
risk_category?, note?, split?. ``split`` records how a row was used while building the rules:

* (none) — the first 368 rows, written before any pattern existed, then used to tune (a dev set);
* ``holdout`` — 94 rows written after tuning; their first run scored risky recall 23/30 and intent
  accuracy 32/64, then they were used to fix general gaps;
* ``holdout2`` — 62 rows written after that; first run: risky recall 9/12, false risk 1/50, intent
  accuracy 32/50. Also used for fixes since.

So the thresholds below hold on data the rules have seen; the first-run figures are the honest
estimate for unseen phrasing. Write new rows *before* changing patterns when you want that number again.

Labelling guide for ``intent``: shipping timing/tracking/address/fees → 배송문의; how to use, wash, store,
assemble, charge → 사용법; specs, size advice, materials, compatibility, origin before buying → 상품문의;
exchange/return requests and received-item problems → 교환반품; refund timing/amount/method → 환불;
cancelling or changing an order → 주문취소; sold out/restock/discontinued → 재입고; the rest → 기타.
``risky`` marks what a person must answer (the risk categories of inquiries.agent.risk).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from inquiries.agent.classify import INTENTS
from inquiries.agent.context import seed_context
from inquiries.agent.pipeline import run_agent
from inquiries.agent.risk import RISK_CATEGORIES

EVAL_FILE = Path(__file__).resolve().parents[1] / "data" / "eval_inquiries.jsonl"

MIN_ITEMS = 200
MIN_RISKY = 60
MIN_INNOCENT_LOOKALIKES = 20
MIN_INTENT_ACCURACY = 0.90
MAX_FALSE_RISK_RATE = 0.05
HIGH_CONFIDENCE = 0.90  # the guide's default threshold
MIN_HIGH_CONFIDENCE_ACCURACY = 0.95


def load_rows() -> list[dict]:
    return [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Evaluation:
    pairs: list[tuple[dict, dict]]  # (row, agent result)
    per_second: float


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    ctx = seed_context(seller_name="행복상점").warm()
    rows = load_rows()
    started = time.perf_counter()
    results = [
        run_agent(content=r["content"], title=r.get("title", ""), product_name=r.get("product_name", ""), context=ctx)
        for r in rows
    ]
    return Evaluation(list(zip(rows, results, strict=True)), len(rows) / (time.perf_counter() - started))


def test_eval_file__is_well_formed_and_big_enough():
    rows = load_rows()
    assert len(rows) >= MIN_ITEMS
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["content"].strip() and r["intent"] in INTENTS and isinstance(r["risky"], bool), r
        assert (r.get("risk_category") in RISK_CATEGORIES) if r["risky"] else ("risk_category" not in r), r
    assert sum(r["risky"] for r in rows) >= MIN_RISKY
    # innocent rows that mention a risky-looking word carry a note saying which
    assert sum(1 for r in rows if not r["risky"] and r.get("note")) >= MIN_INNOCENT_LOOKALIKES


def _report(evaluation: Evaluation) -> str:
    pairs, per_second = evaluation.pairs, evaluation.per_second
    safe = [(r, o) for r, o in pairs if not r["risky"]]
    risky = [(r, o) for r, o in pairs if r["risky"]]
    lines = [
        f"eval set: {len(pairs)} inquiries ({len(risky)} risky, {len(safe)} routine); "
        f"rules pipeline {per_second:,.0f} decisions/s"
    ]
    lines.append(f"{'n':>4} {'precision':>9} {'recall':>7}  intent")
    confusion: Counter[tuple[str, str]] = Counter((r["intent"], o.intent) for r, o in safe)
    for intent in INTENTS:
        tp = confusion[(intent, intent)]
        predicted = sum(n for (_gold, pred), n in confusion.items() if pred == intent)
        gold = sum(n for (g, _pred), n in confusion.items() if g == intent)
        precision = tp / predicted if predicted else float("nan")
        recall = tp / gold if gold else float("nan")
        lines.append(f"{gold:>4} {precision:>9.3f} {recall:>7.3f}  {intent}")
    errors = sorted(((g, p), n) for (g, p), n in confusion.items() if g != p)
    lines.append("confusions (gold → predicted): " + (", ".join(f"{g}→{p}×{n}" for (g, p), n in errors) or "none"))
    by_split: dict[str, list] = defaultdict(list)
    for r, o in pairs:
        by_split[r.get("split", "dev")].append((r, o))
    for split, items in by_split.items():
        s_safe = [(r, o) for r, o in items if not r["risky"]]
        s_risky = [(r, o) for r, o in items if r["risky"]]
        acc = sum(r["intent"] == o.intent for r, o in s_safe) / max(len(s_safe), 1)
        caught = sum(o.reason == "RISK_KEYWORD" for _r, o in s_risky)
        lines.append(f"split {split:<9} n={len(items):<4} intent acc {acc:.3f}  risky caught {caught}/{len(s_risky)}")
    bands = [(0.9, 1.01), (0.75, 0.9), (0.5, 0.75), (0.0, 0.5)]
    for low, high in bands:
        band = [(r, o) for r, o in safe if low <= o.confidence < high]
        acc = sum(r["intent"] == o.intent for r, o in band) / len(band) if band else float("nan")
        lines.append(f"confidence [{low:.2f}, {min(high, 1):.2f}) n={len(band):<4} intent accuracy {acc:.3f}")
    reasons = Counter(o.reason for _r, o in safe)
    lines.append("routine inquiries by reason: " + ", ".join(f"{k}={v}" for k, v in reasons.most_common()))
    return "\n".join(lines)


def test_eval_set__risk_recall_intent_accuracy_and_false_risk(evaluation, capsys):
    with capsys.disabled():
        print("\n" + _report(evaluation) + "\n")
    evaluated = evaluation.pairs

    risky = [(r, o) for r, o in evaluated if r["risky"]]
    missed = [r["id"] for r, o in risky if not (o.needs_human and o.reason == "RISK_KEYWORD")]
    assert missed == [], f"risky inquiries that passed the risk scan: {missed}"

    safe = [(r, o) for r, o in evaluated if not r["risky"]]
    false_risk = [r["id"] for r, o in safe if o.risk_hits]
    assert len(false_risk) / len(safe) <= MAX_FALSE_RISK_RATE, false_risk

    accuracy = sum(r["intent"] == o.intent for r, o in safe) / len(safe)
    assert accuracy >= MIN_INTENT_ACCURACY

    # Confidence must mean something: what clears the default threshold is (almost) always right.
    high = [(r, o) for r, o in safe if o.confidence >= HIGH_CONFIDENCE]
    assert high, "nothing reaches the default threshold: the starter KB is too thin to ever auto-answer"
    assert sum(r["intent"] == o.intent for r, o in high) / len(high) >= MIN_HIGH_CONFIDENCE_ACCURACY


def test_eval_set__no_risky_inquiry_is_ever_answerable(evaluation):
    assert [r["id"] for r, o in evaluation.pairs if r["risky"] and not o.needs_human] == []
