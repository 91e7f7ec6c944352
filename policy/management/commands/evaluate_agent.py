"""Measure the agent on a labelled JSONL file: risk recall, false risk, per-intent precision and recall,
automation at the threshold, calibration error, and every risky or must-human item that would have
been sent. Never sends, never writes."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from markets.management.accounts import account_or_none
from policy.evaluation import SAFE_FROM, evaluate_items, report
from policy.simulate import read_jsonl

ORDER_STATES = ("PAID", "PREPARING", "SHIPPED", "IN_TRANSIT", "DELIVERED")


class Command(BaseCommand):
    help = "Evaluate the agent on labelled inquiries (id, content, intent, optional risk, must_human)."

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, metavar="FILE.jsonl", help="labelled inquiries; - for stdin")
        parser.add_argument("--account", default=None, help="judge with this account's model, knowledge and policy")
        parser.add_argument("--threshold", type=float, default=0.90)
        parser.add_argument("--split", default=None, help="only lines whose 'split' is this (e.g. holdout)")
        parser.add_argument("--assume-order", choices=ORDER_STATES, default=None,
                            help="give every line with has_order=true (of an order-carrying kind) an order in this state")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, **o):
        if not 0.0 <= o["threshold"] <= 1.0:
            raise CommandError(f"--threshold must be between 0 and 1, got {o['threshold']}")
        account = account_or_none(o["account"] or None)
        items, problems = self._read(o["input"], o["split"])
        if not items:
            raise CommandError("no labelled line to evaluate" + (f" ({problems} unreadable)" if problems else ""))
        result = report(evaluate_items(items, account=account, assume_order=o["assume_order"]), threshold=o["threshold"])
        if o["format"] == "json":
            self.stdout.write(json.dumps({**result.figures, "sent_but_should_not": result.leaks}, ensure_ascii=False,
                                         indent=2))
        else:
            self._table(result)
        if problems:
            self.stderr.write(f"{problems} line(s) could not be read and were skipped")

    def _read(self, path: str, split: str | None) -> tuple[list[dict], int]:
        try:
            handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        items, problems = [], 0
        with handle:
            for number, item, error in read_jsonl(handle):
                if error or not isinstance(item.get("intent"), str):
                    problems += 1
                    self.stderr.write(f"line {number}: {error or 'needs a string intent'} (skipped)")
                    continue
                if split is None or item.get("split") == split:
                    items.append(item)
        return items, problems

    def _table(self, result) -> None:
        f = result.figures
        w = self.stdout.write
        pct = lambda v: "-" if v is None else f"{v * 100:.1f}%"  # noqa: E731
        w(f"items {f['items']} (risky {f['risky']}, must-human {f['must_human']}, routine 배송문의/사용법 "
          f"{f['routine_items']}); model version {f['model_version'] or '- (rules)'}")
        w(f"intent accuracy            {pct(f['intent_accuracy'])} (without risky/must-human: {pct(f['intent_accuracy_clean'])})")
        w(f"risk recall (screens)      {pct(f['risk_recall'])}   false risk rate {pct(f['false_risk_rate'])}")
        w(f"must-human screen recall   {pct(f['must_human_screen_recall'])}   false rate {pct(f['false_must_human_rate'])}")
        w(f"to a person at ≥{SAFE_FROM:.2f}       risky {pct(f['to_a_person']['risky'])}, must-human "
          f"{pct(f['to_a_person']['must_human'])}")
        w(f"automation at {f['threshold']:.2f}         all {pct(f['automation'])}, routine {pct(f['routine_automation'])} "
          + "(" + ", ".join(f"{k} {pct(v)}" for k, v in f["routine_automation_by_intent"].items()) + ")")
        w(f"calibration error (ECE)    {f['expected_calibration_error']:.3f}")
        w("\nper intent                 precision  recall  support")
        for intent, v in f["per_intent"].items():
            w(f"  {intent:<10}               {pct(v['precision']):>8}  {pct(v['recall']):>6}  {v['support']:>7}")
        w("\nrisk recall by category: " + ", ".join(f"{k} {pct(v)}" for k, v in f["risk_recall_by_category"].items()))
        w("\nthreshold  automation  routine  risky sent  must-human sent")
        for s in f["sweep"]:
            w(f"  {s['threshold']:.2f}     {pct(s['automation']):>9}  {pct(s['routine_automation']):>7}  "
              f"{s['risky_sent']:>10}  {s['must_human_sent']:>15}")
        w("\nreliability (confidence → how often sent as is)")
        for b in f["reliability"]:
            if b["n"]:
                w(f"  [{b['low']:.1f}, {b['high']:.1f})  n={b['n']:<4}  confidence {b['confidence']:.3f}  observed {b['observed']:.3f}")
        w(f"\nrisky or must-human items that would have been sent at ≥{SAFE_FROM:.2f}: {len(result.leaks)}")
        for leak in result.leaks:
            w(f"  {leak['id']} [{leak['why']}:{leak['category']}] {leak['intent']} {leak['confidence']:.2f} — {leak['content']}")
