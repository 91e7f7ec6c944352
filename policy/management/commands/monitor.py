import json

from django.core.management.base import BaseCommand

from policy.monitor import run_monitor


class Command(BaseCommand):
    help = "Evaluate the rollback rules once and act (the schedule runs the same code). --dry-run writes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would trip; change nothing")

    def handle(self, *args, dry_run, **options):
        report = run_monitor(dry_run=dry_run)
        self.stdout.write(f"evaluated {report.evaluated} rule(s); {len(report.trips)} tripped"
                          + (" (dry run: nothing changed)" if dry_run else f"; {len(report.opened)} new incident(s)"))
        opened = {(i.rule.code, i.account.name if i.account else None): i for i in report.opened}
        for trip in report.trips:
            incident = opened.get((trip["rule"], trip["account"]))
            if dry_run or trip["rule_dry_run"]:
                state = "WOULD"
            elif incident:
                state = f"INCIDENT #{incident.pk}:"
            else:
                state = "already open:"
            scope = trip["account"] or "global"
            self.stdout.write(self.style.ERROR(f"  {trip['name']} [{scope}] → {state} {trip['action']}"))
            self.stdout.write(f"    {json.dumps(trip['figures'], ensure_ascii=False, default=str)[:400]}")
