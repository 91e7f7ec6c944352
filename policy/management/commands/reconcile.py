from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from policy.sending import reconcile


class Command(BaseCommand):
    help = _(
        "SEND_UNKNOWN 건과 임대가 --stale-after초(기본: 임대 시간)보다 오래된 SENDING 건을 마켓에 물어 "
        "정리합니다. 답변을 보내지는 않습니다."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help=_("이보다 오래된 임대의 SENDING 건도 확인 (초)"),
        )

    def handle(self, *args, stale_after, **options):
        if stale_after is not None and stale_after < 0:
            raise CommandError(_("--stale-after는 0초 이상이어야 합니다"))
        reports = reconcile(stale_after=stale_after, include_waiting=True)
        counts = Counter(r.result for r in reports)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or _("정리할 건 없음")
        self.stdout.write(_("확인 %(n)d건: %(summary)s") % {"n": len(reports), "summary": summary})
        for r in reports:
            self.stdout.write(
                "  "
                + _("문의 %(id)s: %(result)s — %(detail)s")
                % {"id": r.inquiry_id, "result": r.result, "detail": r.detail}
            )
