"""The guide's phase 1 checks, the monitoring phase 4 relies on, and the phase 5 checklist.

Exits 1 when anything is not ready, so a deploy script or a cron job can gate on it.
"""

import json

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from policy.readiness import readiness_report

# A sign and a word for each state (the sign alone is an empty box without an emoji font), coloured by style
MARKS = {
    "ready": ("✓", gettext_lazy("통과"), "SUCCESS"),
    "warn": ("!", gettext_lazy("주의"), "WARNING"),
    "fail": ("✗", gettext_lazy("실패"), "ERROR"),
}


class Command(BaseCommand):
    help = _("가이드 1단계 점검과 5단계 체크리스트(4단계 모니터링 포함). 준비 안 됨이면 종료 코드 1.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help=_("출력 형식: table(사람용) 또는 json(기계용)")
        )

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
                self.stdout.write(f"  {self._mark(c['status'])} {c['name']}: {c['detail']}")
            self.stdout.write("\n" + _("참고: 첫 응답 시간 (고객이 문의한 때부터 첫 답변까지)"))
            for line in report["first_response"]:
                self.stdout.write(f"  · {line['name']}: {line['detail']}")
            summary = _("통과 %(ready)d, 주의 %(warn)d, 실패 %(fail)d") % report["counts"]
            if report["ready"]:
                self.stdout.write("\n" + self.style.SUCCESS(_("준비됨 (%(summary)s)") % {"summary": summary}))
            else:
                self.stdout.write("\n" + self.style.ERROR(_("준비 안 됨 (%(summary)s)") % {"summary": summary}))
        if not report["ready"]:
            raise SystemExit(1)

    def _mark(self, status: str) -> str:
        sign, word, style = MARKS[status]
        return getattr(self.style, style)(f"{sign} {word}")
