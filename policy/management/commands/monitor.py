"""Evaluate the rollback rules once and act — the same code the every-minute schedule runs.

``--dry-run`` reports what would trip and writes nothing (no incident, no action, no heartbeat).
"""

import json

from django.core.management.base import BaseCommand

from policy.monitor import run_monitor
from policy.notify import deliver_pending


class Command(BaseCommand):
    help = "Evaluate the rollback rules once and act (the schedule runs the same code). --dry-run writes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would trip; change nothing")

    def handle(self, *args, dry_run, **options):
        report = run_monitor(dry_run=dry_run, deliver=False)
        w = self.stdout.write
        w(f"evaluated {report.evaluated} rule(s); {len(report.trips)} tripped"
          + (" (dry run: nothing changed)" if dry_run else f"; {len(report.opened)} new incident(s)"))
        opened = {(i.rule.code, i.account.name if i.account else None): i for i in report.opened}
        for trip in report.trips:
            incident = opened.get((trip["rule"], trip["account"]))
            scope = trip["account"] or "global"
            if dry_run:
                would = ("record a dry-run incident (the rule is in dry-run: no action)" if trip["rule_dry_run"]
                         else trip["action"])
                line = f"  {trip['name']} [{scope}] → WOULD {would}"
            elif incident is not None:
                line = f"  {trip['name']} [{scope}] → INCIDENT #{incident.pk}: {incident.action_taken}"
            else:
                line = f"  {trip['name']} [{scope}] → already open (no new action)"
            w(self.style.ERROR(line) if not (dry_run or trip["rule_dry_run"]) else self.style.WARNING(line))
            w(f"    {trip['summary']}")
            w(f"    {json.dumps(trip['figures'], ensure_ascii=False, default=str)[:400]}")
        for error in report.errors:
            w(self.style.ERROR(f"  error: {error}"))
        if not dry_run:
            # Notifications of new incidents, and any whose retry is due. A failing channel is retried
            # by the delivery schedule; it does not fail this command.
            delivered = deliver_pending()
            if delivered:
                w(f"{delivered} notification(s) delivered")
