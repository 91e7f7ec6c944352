"""Evaluate the rollback rules once and act — the same code the every-minute schedule runs.

``--dry-run`` reports what would trip and writes nothing (no incident, no action, no heartbeat); it
shows every rule's current value against its threshold and minimum sample.
"""

import json

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from partialauto.cli import table
from policy.monitor import run_monitor
from policy.notify import deliver_pending


def _figure(value, *, is_rate: bool) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f}%" if is_rate else f"{value:g}"


def reading_rows(readings: list[dict]) -> list[list[str]]:
    rows = []
    for r in readings:
        verdict = _("발동") if r["tripped"] else (_("표본 부족") if r["sample"] < r["min_sample"] else _("정상"))
        rows.append(
            [
                r["name"],
                r["scope"] if r["scope"] != "global" else _("전체"),
                _figure(r["value"], is_rate=r["is_rate"]),
                f"{r['comparison']} {_figure(r['threshold'], is_rate=r['is_rate'])}",
                f"{r['sample']}/{r['min_sample']}",
                verdict,
            ]
        )
    return rows


class Command(BaseCommand):
    help = _("롤백 규칙을 한 번 평가하고 조치합니다(스케줄과 같은 코드). --dry-run은 아무것도 바꾸지 않습니다.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help=_("무엇이 발동할지 보여 주기만 하고 바꾸지 않음"))

    def handle(self, *args, dry_run, **options):
        report = run_monitor(dry_run=dry_run, deliver=False)
        w = self.stdout.write
        counts = {"rules": report.evaluated, "tripped": len(report.trips), "opened": len(report.opened)}
        if dry_run:
            w(_("규칙 %(rules)d개 평가, %(tripped)d개 발동 (시험 실행: 아무것도 바꾸지 않음)") % counts)
            headers = [_("규칙"), _("범위"), _("현재 값"), _("기준"), _("표본/최소 표본"), _("결과")]
            for line in table(headers, reading_rows(report.readings), right=(2, 4)):
                w("  " + line)
        else:
            w(_("규칙 %(rules)d개 평가, %(tripped)d개 발동, 새 사고 %(opened)d건") % counts)
        opened = {(i.rule.code, i.account.name if i.account else None): i for i in report.opened}
        for trip in report.trips:
            incident = opened.get((trip["rule"], trip["account"]))
            scope = trip["account"] or _("전체")
            if dry_run:
                would = (
                    _("시험 실행 사고로 기록 (이 규칙은 시험 실행: 조치 없음)")
                    if trip["rule_dry_run"]
                    else trip["action"]
                )
                line = _("  %(name)s [%(scope)s] → 실행했다면: %(would)s") % {
                    "name": trip["name"],
                    "scope": scope,
                    "would": would,
                }
            elif incident is not None:
                line = _("  %(name)s [%(scope)s] → 사고 #%(pk)s: %(action)s") % {
                    "name": trip["name"],
                    "scope": scope,
                    "pk": incident.pk,
                    "action": incident.action_taken,
                }
            else:
                line = _("  %(name)s [%(scope)s] → 이미 열린 사고 (새 조치 없음)") % {
                    "name": trip["name"],
                    "scope": scope,
                }
            w(self.style.ERROR(line) if not (dry_run or trip["rule_dry_run"]) else self.style.WARNING(line))
            w(f"    {trip['summary']}")
            w(f"    {json.dumps(trip['figures'], ensure_ascii=False, default=str)[:400]}")
        for error in report.errors:
            w(self.style.ERROR(_("  오류: %(error)s") % {"error": error}))
        if not dry_run:
            # Notifications of new incidents, and any whose retry is due. A failing channel is retried
            # by the delivery schedule; it does not fail this command.
            delivered = deliver_pending()
            if delivered:
                w(_("알림 %(n)d건 보냄") % {"n": delivered})
