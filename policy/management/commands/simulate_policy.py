"""Replay inquiries through the agent and a proposed policy. Never sends, never writes."""

from __future__ import annotations

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from policy import services
from policy.controls import load_account_controls, load_global
from policy.kpi import WINDOWS
from policy.quota import quota_used
from policy.simulate import SimulationInputError, proposed_controls, read_jsonl, simulate, stored_items, summarize, virtual_controls


class Command(BaseCommand):
    help = "Replay inquiries (JSONL or stored) through the agent and the current or a proposed policy."

    def add_arguments(self, parser):
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument("--input", metavar="FILE.jsonl", help='one {"id", "content", ...} object a line; - for stdin')
        src.add_argument("--since", help="stored inquiries from this window: 1h, 24h, 7d or 30d")
        parser.add_argument("--account", default=None, help="judge with this account's mode, phase and quota")
        parser.add_argument("--full-unlock", action="store_true", help="as if LIVE in the last phase, always open")
        parser.add_argument("--threshold", type=float, default=None, help="a proposed confidence threshold")
        parser.add_argument("--phase", default=None, help="a proposed phase (number or name)")
        parser.add_argument("--at", default=None, help="evaluate at this ISO time (business hours)")
        parser.add_argument("--format", choices=["jsonl", "table"], default="jsonl")

    def handle(self, *args, **o):
        try:
            at = dt.datetime.fromisoformat(o["at"]) if o["at"] else timezone.now()
        except ValueError:
            raise CommandError(f"--at: '{o['at']}' is not an ISO date-time (e.g. 2026-11-26T10:30:00+09:00)") from None
        if timezone.is_naive(at):
            at = timezone.make_aware(at)
        try:
            account = services.get_account(o["account"]) if o["account"] else None
            phase = services.get_phase(o["phase"]) if o["phase"] else None
        except services.RolloutError as exc:
            raise CommandError(str(exc)) from exc
        glob = load_global()
        cache: dict = {}

        def controls_for(item: dict):
            target = account or item.get("_account")
            key = target.pk if target is not None else None
            if key not in cache:
                base = load_account_controls(target, glob=glob) if target is not None else virtual_controls()
                try:
                    cache[key] = proposed_controls(base, full_unlock=o["full_unlock"], threshold=o["threshold"], phase=phase)
                except SimulationInputError as exc:
                    raise CommandError(str(exc)) from exc
                cache[(key, "used")] = quota_used(account_id=target.pk, at=at) if target is not None else 0
            item["_quota_used"] = cache[(key, "used")]
            return cache[key]

        errors = 0
        if o["input"]:
            try:
                handle = sys.stdin if o["input"] == "-" else open(o["input"], encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot read {o['input']}: {exc.strerror}") from exc

            def items():
                nonlocal errors
                with handle:
                    for number, item, error in read_jsonl(handle):
                        if error:
                            errors += 1
                            self.stderr.write(f"line {number}: {error} (skipped)")
                            continue
                        yield item
            source = items()
        else:
            if o["since"] not in WINDOWS:
                raise CommandError(f"--since: unknown window '{o['since']}' (use {', '.join(WINDOWS)})")
            source = stored_items(since=WINDOWS[o["since"]], account=account)

        seller = account.seller_name if account else ""
        rows = []
        for row in simulate(source, controls_for=controls_for, at=at, seller_name=seller, account=account):
            if o["format"] == "jsonl":
                self.stdout.write(json.dumps(row, ensure_ascii=False, default=str))
            rows.append(row)
        if o["format"] == "table":
            s = summarize(rows)
            self.stdout.write(f"inquiries: {s['total']}   would AUTO_SEND: {s['would_auto_send']}   "
                              f"HUMAN_REVIEW: {s['total'] - s['would_auto_send']}")
            self.stdout.write("\nby intent:")
            for intent, counts in s["by_intent"].items():
                self.stdout.write(f"  {intent:<8} AUTO_SEND {counts.get('AUTO_SEND', 0):>5}   HUMAN_REVIEW {counts.get('HUMAN_REVIEW', 0):>5}")
            self.stdout.write("\nby reason:")
            for reason, count in s["by_reason"].items():
                self.stdout.write(f"  {reason:<20} {count:>5}")
        if errors:
            raise CommandError(f"{errors} input line(s) could not be read and were skipped")
