from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from policy.sending import send_due


class Command(BaseCommand):
    help = _("지금 보낼 차례인 답변을 워커와 같은 점유(claim)·임대(lease) 경로로 전송합니다.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help=_("최대 처리 건수"))

    def handle(self, *args, limit, **options):
        if limit < 1:
            raise CommandError(_("--limit은 1 이상이어야 합니다"))
        reports = send_due(limit=limit)
        counts = Counter(r.result for r in reports)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or _("보낼 차례인 답변 없음")
        self.stdout.write(_("처리 %(n)d건: %(summary)s") % {"n": len(reports), "summary": summary})
