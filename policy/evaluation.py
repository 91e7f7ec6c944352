"""Measure the agent on a labelled file: what ``evaluate_agent`` reports.

Each line (JSON): ``id``, ``content``, ``intent``, optional ``title``, ``risk`` (a category or true),
``must_human`` (a category or true), ``product_id``, ``order_id``, ``kind``, ``has_order``. The agent runs
as it would for the account (its active model, keywords, knowledge, shipping policy and product facts;
no marketplace is called), and the policy as at full unlock (every intent, no quota, always open) so that
only what the agent says — risk, a person's request, facts, confidence — decides.

``send as is`` — what confidence is checked against — is, by the labels: the intent is right, nothing
risky and nothing only a person may grant, and the draft was written from facts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from inquiries.agent.confidence import UNGROUNDED_KIND
from inquiries.agent.facts import LOOKUP_MIRROR, OrderFact
from inquiries.agent.loader import load_context
from inquiries.agent.pipeline import run_agent
from inquiries.agent.result import AgentResult
from inquiries.facts import load_facts, order_refs
from markets.models import MarketAccount
from policy.controls import load_account_controls
from policy.engine import Reason as PolicyReason
from policy.engine import evaluate
from policy.simulate import proposed_controls, virtual_controls

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
SAFE_FROM = 0.8  # risky and must-human items must all go to a person at every threshold from here up
ROUTINE = ("배송문의", "사용법")
ORDER_KINDS = ("COUPANG_ONLINE", "COUPANG_CALLCENTER", "NAVER_INQUIRY")
ECE_BINS = 10


@dataclass
class Row:
    item: dict
    result: AgentResult
    other_gates_pass: bool  # every policy gate but the confidence threshold passes
    confidence: float
    pre: float = 0.0  # the confidence before the answer kind's calibration (trained model only)
    kind: str = ""  # the answer kind the draft was written from ("ungrounded": none)

    @property
    def risky(self) -> bool:
        return bool(self.item.get("risk"))

    @property
    def must_human(self) -> bool:
        return bool(self.item.get("must_human"))

    @property
    def flagged_risk(self) -> bool:
        return bool(self.result.risk_hits)

    @property
    def flagged_person(self) -> bool:
        return bool(self.result.person_hits)

    @property
    def intent_right(self) -> bool:
        return self.result.intent == self.item["intent"]

    def sent_at(self, threshold: float) -> bool:
        return self.other_gates_pass and self.confidence >= threshold

    @property
    def send_as_is(self) -> float:
        """What confidence predicts, judged by the labels (not by the agent's own screens): right intent,
        nothing risky or only a person's, and a draft written from facts."""
        return float(self.intent_right and not self.risky and not self.must_human and bool(self.result.answer_kind))


def assumed_order(item: dict, status: str, now: dt.datetime) -> OrderFact:
    """A synthetic order line for a labelled question about the buyer's own order (``--assume-order``)."""
    shipped = status in ("SHIPPED", "IN_TRANSIT", "DELIVERED")
    return OrderFact(
        line_id=f"eval-{item['id']}",
        order_id=f"eval-{item['id']}",
        status=status,
        raw_status=status,
        carrier_name="CJ대한통운" if shipped else "",
        tracking_number="600000000000" if shipped else "",
        paid_at=now - dt.timedelta(days=2),
        shipped_at=now - dt.timedelta(days=1) if shipped else None,
        delivered_at=now - dt.timedelta(hours=3) if status == "DELIVERED" else None,
        expected_dispatch_date=None if shipped else (now + dt.timedelta(days=1)).date(),
        last_movement_at=now - dt.timedelta(hours=6),
        synced_at=now,
        fingerprint="eval",
    )


def evaluate_items(
    items: Sequence[dict],
    *,
    account: MarketAccount | None,
    assume_order: str | None = None,
    now: dt.datetime | None = None,
) -> list[Row]:
    now = now or timezone.now()
    context = load_context(account.name if account else None, account.seller_name if account else "")
    base = load_account_controls(account) if account else virtual_controls()
    controls = proposed_controls(base, full_unlock=True, threshold=0.0, phase=None)
    rows = []
    for item, facts in zip(items, load_facts(items, now=now, lookups=False, account=account), strict=True):
        if (
            assume_order
            and item.get("has_order")
            and not facts.orders
            and item.get("kind", ORDER_KINDS[0]) in ORDER_KINDS
        ):
            facts = dataclasses.replace(
                facts,
                order_ids=(f"eval-{item['id']}",),
                order_lookup=LOOKUP_MIRROR,
                orders=(assumed_order(item, assume_order, now),),
            )
        _orders, _lines, item_ids = order_refs(item)
        result = run_agent(
            content=item.get("content") or "",
            title=item.get("title") or "",
            context=context,
            product_name=item.get("product_name") or "",
            facts=facts,
            item_ids=item_ids,
        )
        _allowed, _reason, details = evaluate(
            {
                "intent": result.intent,
                "confidence": result.confidence,
                "draft": result.draft,
                "risk_hits": result.risk_hits,
                "needs_human": result.needs_human,
                "reason": result.reason,
                "grounded": result.grounded,
                "controls": controls,
                "now": now,
                "quota_used": 0,
            }
        )
        others = [code for code in details["failed_gates"] if code != PolicyReason.LOW_CONFIDENCE]
        score: dict[str, Any] = next((step for step in result.trace if step.get("step") == "score"), {})
        rows.append(
            Row(
                item,
                result,
                not others,
                float(result.confidence),
                float((score.get("factors") or {}).get("pre", result.confidence)),
                result.answer_kind or UNGROUNDED_KIND,
            )
        )
    return rows


def recalibrated(rows: Sequence[Row], calibration: dict) -> list[Row]:
    """The rows with their confidence mapped again from ``pre`` through ``calibration`` (answer kind →
    map): what they would say with that calibration (no reviewed drafts move it during an evaluation)."""
    out = []
    for row in rows:
        mapping = calibration.get(row.kind)
        out.append(dataclasses.replace(row, confidence=round(mapping(row.pre) if mapping else row.pre, 4)))
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ece(rows: Iterable[Row]) -> tuple[float, list[dict]]:
    rows = list(rows)
    bins: list[list[Row]] = [[] for _ in range(ECE_BINS)]
    for row in rows:
        bins[min(int(row.confidence * ECE_BINS), ECE_BINS - 1)].append(row)
    error = 0.0
    table: list[dict[str, Any]] = []
    for b, members in enumerate(bins):
        if members:
            conf = sum(r.confidence for r in members) / len(members)
            seen = sum(r.send_as_is for r in members) / len(members)
            error += len(members) / len(rows) * abs(conf - seen)
            table.append(
                {
                    "low": b / ECE_BINS,
                    "high": (b + 1) / ECE_BINS,
                    "n": len(members),
                    "confidence": round(conf, 4),
                    "observed": round(seen, 4),
                }
            )
        else:
            table.append(
                {"low": b / ECE_BINS, "high": (b + 1) / ECE_BINS, "n": 0, "confidence": None, "observed": None}
            )
    return round(error, 4), table


@dataclass
class Report:
    figures: dict
    leaks: list[dict] = field(default_factory=list)  # risky or must-human items sent at a threshold ≥ SAFE_FROM


def report(rows: Sequence[Row], *, threshold: float) -> Report:
    risky = [r for r in rows if r.risky]
    person = [r for r in rows if r.must_human]
    clean = [r for r in rows if not r.risky and not r.must_human]
    routine = [r for r in clean if r.item["intent"] in ROUTINE]
    truth, said = [r.item["intent"] for r in rows], [r.result.intent for r in rows]
    per_intent = {}
    for intent in sorted(set(truth) | set(said)):
        tp = sum(1 for t, s in zip(truth, said, strict=True) if t == s == intent)
        per_intent[intent] = {
            "precision": _rate(tp, said.count(intent)),
            "recall": _rate(tp, truth.count(intent)),
            "support": truth.count(intent),
        }
    sweep = []
    for t in sorted({*THRESHOLDS, threshold}):
        sweep.append(
            {
                "threshold": t,
                "automation": _rate(sum(r.sent_at(t) for r in rows), len(rows)),
                "routine_automation": _rate(sum(r.sent_at(t) for r in routine), len(routine)),
                "risky_sent": sum(r.sent_at(t) for r in risky),
                "must_human_sent": sum(r.sent_at(t) for r in person),
            }
        )
    ece, reliability = _ece(rows)
    leaks = [
        {
            "id": r.item["id"],
            "why": "risk" if r.risky else "must_human",
            "category": r.item.get("risk") or r.item.get("must_human"),
            "intent": r.result.intent,
            "confidence": r.confidence,
            "content": (r.item.get("content") or "")[:120],
        }
        for r in risky + person
        if r.sent_at(SAFE_FROM)
    ]
    routine_by_intent = {
        i: _rate(
            sum(r.sent_at(threshold) for r in routine if r.item["intent"] == i),
            sum(1 for r in routine if r.item["intent"] == i),
        )
        for i in ROUTINE
    }
    figures = {
        "items": len(rows),
        "risky": len(risky),
        "must_human": len(person),
        "threshold": threshold,
        "intent_accuracy": _rate(sum(r.intent_right for r in rows), len(rows)),
        "intent_accuracy_clean": _rate(sum(r.intent_right for r in clean), len(clean)),
        "per_intent": per_intent,
        "risk_recall": _rate(sum(r.flagged_risk for r in risky), len(risky)),
        "risk_recall_by_category": {
            c: _rate(
                sum(r.flagged_risk for r in risky if str(r.item["risk"]) == c),
                sum(1 for r in risky if str(r.item["risk"]) == c),
            )
            for c in sorted({str(r.item["risk"]) for r in risky})
        },
        "false_risk_rate": _rate(sum(r.flagged_risk for r in clean), len(clean)),
        "must_human_screen_recall": _rate(sum(r.flagged_person for r in person), len(person)),
        "false_must_human_rate": _rate(sum(r.flagged_person for r in clean), len(clean)),
        "to_a_person": {
            "risky": _rate(sum(not r.sent_at(SAFE_FROM) for r in risky), len(risky)),
            "must_human": _rate(sum(not r.sent_at(SAFE_FROM) for r in person), len(person)),
        },
        "automation": _rate(sum(r.sent_at(threshold) for r in rows), len(rows)),
        "routine_automation": _rate(sum(r.sent_at(threshold) for r in routine), len(routine)),
        "routine_automation_by_intent": routine_by_intent,
        "routine_items": len(routine),
        "expected_calibration_error": ece,
        "reliability": reliability,
        "sweep": sweep,
        "reasons": dict(Counter(r.result.reason for r in rows).most_common()),
        "model_version": next((r.result.model_version for r in rows), None),
    }
    return Report(figures, leaks)
