from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from partialauto import cli
from policy.decide import decide_new
from policy.engine import reason_label


class Command(BaseCommand):
    help = _("NEW 문의에 CS 에이전트와 자동화 정책을 묶음으로 실행합니다.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help=_("최대 처리 문의 수"))

    def handle(self, *args, limit, **options):
        if limit is not None and limit < 1:
            raise CommandError(_("--limit은 1 이상이어야 합니다"))
        s = decide_new(limit=limit)
        self.stdout.write(
            _(
                "판정 %(decided)d건: AUTO_SEND %(auto)d (미룸 %(deferred)d), 섀도 후보 %(shadow)d, "
                "HUMAN_REVIEW %(human)d, 오류 %(errors)d"
            )
            % {
                "decided": s.decided,
                "auto": s.auto_send,
                "deferred": s.deferred,
                "shadow": s.shadow_candidates,
                "human": s.human_review,
                "errors": s.errors,
            }
        )
        rows = [(reason_label(code), code, count) for code, count in sorted(s.by_reason.items(), key=lambda kv: -kv[1])]
        if rows:
            self.stdout.write(
                "\n".join("  " + line for line in cli.table([_("사유"), _("코드"), _("건수")], rows, right=[2]))
            )
