import json

from django.core.management.base import BaseCommand

from policy.readiness import readiness_report

ICONS = {"ready": "✅", "warn": "⚠️", "fail": "❌"}


class Command(BaseCommand):
    help = "The guide's phase 1 checks and phase 5 checklist. Exits 1 when not ready."

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
                    self.stdout.write("\n" + ("Phase 1: 사전 체크" if section == "phase1" else "Phase 5: 최종 승인 체크리스트"))
                self.stdout.write(f"  {ICONS[c['status']]} {c['name']}: {c['detail']}")
            self.stdout.write("\n" + ("READY" if report["ready"] else "NOT READY"))
        if not report["ready"]:
            raise SystemExit(1)
