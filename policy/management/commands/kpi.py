"""The guide's monitoring figures: shadow statistics (1.2), failure rates per market and account (1.3),
real-time AUTO_SEND (4.1.1), daily failure rates, and today's sends against quota (3.2.4).
Test-mode sends never count as failures."""

import json

from django.core.management.base import BaseCommand, CommandError

from policy.kpi import WINDOWS, kpi_report


def table(rows: list[dict], columns: list[str]) -> list[str]:
    if not rows:
        return ["  (none)"]

    def cell(row: dict, column: str) -> str:
        value = row.get(column)
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else ""
        return str(value)

    widths = {c: max(len(c), *(len(cell(r, c)) for r in rows)) for c in columns}
    lines = ["  " + "  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    for r in rows:
        lines.append("  " + "  ".join(cell(r, c).ljust(widths[c]) for c in columns).rstrip())
    return lines


class Command(BaseCommand):
    help = "The guide's monitoring figures: shadow statistics, failure rates, real-time auto-send, quotas."

    def add_arguments(self, parser):
        parser.add_argument("--window", default="24h", help=f"{', '.join(WINDOWS)} (default 24h)")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, window, format, **options):
        if window not in WINDOWS:
            raise CommandError(f"unknown window '{window}' (use {', '.join(WINDOWS)})")
        report = kpi_report(window=window)
        if format == "json":
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
            return
        w = self.stdout.write
        a = report["send_attempts"]
        w(f"KPI — window {window}, at {report['generated_at']}")
        w(f"real send attempts: {a['attempts']}, failed {a['failed']}, failure rate "
          f"{'-' if a['failure_rate'] is None else str(a['failure_rate']) + '%'} (test mode excluded)")
        w("\n[1.2] inquiries and AUTO_SEND decisions per day (7 days; in shadow mode these are candidates)")
        for line in table(report["shadow_stats_7d"], ["date", "total", "auto_send", "shadow_candidates", "auto_rate"]):
            w(line)
        w(f"\n[1.3] failure rate per market and account ({window}; inquiries with a real send attempt)")
        for line in table(report["failure_rates"], ["market", "account", "attempted", "sent", "failed", "unknown", "failure_rate"]):
            w(line)
        w(f"\n[4.1.1] AUTO_SEND decisions in the window ({window}) per market")
        for line in table(report["realtime_auto_send"], ["market", "total", "sent", "failed", "test_mode", "avg_confidence"]):
            w(line)
        w("\n[4.1.2] real send failure rate per day (%, 7 days)")
        for line in table(report["failure_rate_by_day_7d"], ["day", "attempts", "failed", "rate"]):
            w(line)
        w("\n[3.2.4] today's sends against quota, 24 h failure rate (%) and consecutive failures per account")
        for line in table(report["quota_today"], ["account", "mode", "phase", "sent_today", "quota_used", "quota",
                                                   "failure_rate_24h", "consecutive_failures", "locked", "lock_reason"]):
            w(line)
