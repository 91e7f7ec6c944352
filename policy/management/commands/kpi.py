import json

from django.core.management.base import BaseCommand, CommandError

from policy.kpi import WINDOWS, kpi_report


def table(rows: list[dict], columns: list[str]) -> list[str]:
    if not rows:
        return ["  (none)"]
    widths = {c: max(len(c), *(len("" if r.get(c) is None else str(r.get(c))) for r in rows)) for c in columns}
    lines = ["  " + "  ".join(c.ljust(widths[c]) for c in columns)]
    for r in rows:
        lines.append("  " + "  ".join(("-" if r.get(c) is None else str(r.get(c))).ljust(widths[c]) for c in columns))
    return lines


class Command(BaseCommand):
    help = "The guide's monitoring figures: shadow statistics, failure rates, real-time auto-send, quotas."

    def add_arguments(self, parser):
        parser.add_argument("--window", default="24h", help="1h, 24h, 7d or 30d")
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
        w(f"send attempts: {a['attempts']}, failed {a['failed']}, failure rate "
          f"{'-' if a['failure_rate'] is None else str(a['failure_rate']) + '%'} (test mode excluded)")
        w("\n[1.2] shadow / auto-send decisions per day (7 days)")
        for line in table(report["shadow_stats_7d"], ["date", "total", "auto_send", "shadow_candidates", "auto_rate"]):
            w(line)
        w("\n[1.3] failure rate per market and account")
        for line in table(report["failure_rates"], ["market", "account", "attempted", "sent", "failed", "unknown", "failure_rate"]):
            w(line)
        w("\n[4.1.1] AUTO_SEND in the window")
        for line in table(report["realtime_auto_send"], ["market", "total", "sent", "failed", "test_mode", "avg_confidence"]):
            w(line)
        w("\n[3.2.4] today's sends against quota")
        for line in table(report["quota_today"], ["account", "mode", "phase", "sent_today", "quota_used", "quota",
                                                   "failure_rate_24h", "consecutive_failures", "lock_reason"]):
            w(line)
