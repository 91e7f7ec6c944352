"""The guide's phase 1 checks, the monitoring phase 4 relies on, and the phase 5 checklist.

Exits 1 when anything is not ready, so a deploy script or a cron job can gate on it.
"""

import json

from django.core.management.base import BaseCommand

from policy.readiness import readiness_report

ICONS = {"ready": "✅", "warn": "⚠️", "fail": "❌"}


class Command(BaseCommand):
    help = "The guide's phase 1 checks and phase 5 checklist (with the monitoring of phase 4). Exits 1 when not ready."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, format, **options):
        report = readiness_report()
        if format == "json":
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            section = None
            for c in report["checks"]:
                if c["section"] != section:
                    section = c["section"]
                    self.stdout.write("\n" + report["sections"].get(section, section))
                self.stdout.write(f"  {ICONS[c['status']]} {c['name']}: {c['detail']}")
            counts = report["counts"]
            summary = f"{counts['ready']} ready, {counts['warn']} warn, {counts['fail']} fail"
            if report["ready"]:
                self.stdout.write("\n" + self.style.SUCCESS(f"READY ({summary})"))
            else:
                self.stdout.write("\n" + self.style.ERROR(f"NOT READY ({summary})"))
        if not report["ready"]:
            raise SystemExit(1)
