"""The guide's monitoring figures: shadow statistics (1.2), failure rates per market and account (1.3),
real-time AUTO_SEND (4.1.1), daily failure rates, and today's sends against quota (3.2.4).
Test-mode sends never count as failures."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inquiries.answer_path import AnswerPath
from partialauto import cli
from policy.engine import mode_label
from policy.first_response import human_duration
from policy.kpi import WINDOWS, kpi_report

# column key -> header, for every table the report has
HEADERS = {
    "date": gettext_lazy("날짜"),
    "day": gettext_lazy("날짜"),
    "total": gettext_lazy("전체"),
    "auto_send": "AUTO_SEND",
    "shadow_candidates": gettext_lazy("섀도 후보"),
    "auto_rate": gettext_lazy("자동 비율(%)"),
    "market": gettext_lazy("마켓"),
    "account": gettext_lazy("계정"),
    "attempted": gettext_lazy("시도 문의"),
    "sent": gettext_lazy("전송"),
    "failed": gettext_lazy("실패"),
    "unknown": gettext_lazy("결과 불명"),
    "failure_rate": gettext_lazy("실패율(%)"),
    "test_mode": gettext_lazy("테스트 모드"),
    "avg_confidence": gettext_lazy("평균 신뢰도"),
    "attempts": gettext_lazy("시도"),
    "rate": gettext_lazy("실패율(%)"),
    "mode": gettext_lazy("모드"),
    "phase": gettext_lazy("단계"),
    "sent_today": gettext_lazy("오늘 전송"),
    "quota_used": gettext_lazy("한도 사용"),
    "quota": gettext_lazy("한도"),
    "failure_rate_24h": gettext_lazy("24시간 실패율(%)"),
    "consecutive_failures": gettext_lazy("연속 실패"),
    "locked": gettext_lazy("잠금"),
    "lock_reason": gettext_lazy("잠금 사유"),
    "intent": gettext_lazy("의도"),
    "path": gettext_lazy("답변"),
    "answers": gettext_lazy("답변 수"),
    "follow_ups": gettext_lazy("재문의"),
    "repeats": gettext_lazy("같은 질문"),
    "complaints": gettext_lazy("불만 재문의"),
    "follow_up_rate": gettext_lazy("재문의율(%)"),
    "complaint_rate": gettext_lazy("불만율(%)"),
    "fr_window": gettext_lazy("기간"),
    "fr_group": gettext_lazy("구분"),
    "fr_key": gettext_lazy("대상"),
    "count": gettext_lazy("답변"),
    "wait_p50": gettext_lazy("대기 p50"),
    "wait_p90": gettext_lazy("대기 p90"),
    "wait_p95": gettext_lazy("대기 p95"),
    "ours_p95": gettext_lazy("수집 후 p95"),
    "in_hours_p95": gettext_lazy("영업시간 내 p95"),
    "outside_hours_p95": gettext_lazy("영업시간 외 p95"),
}
TEXT_COLUMNS = {
    "date",
    "day",
    "market",
    "account",
    "mode",
    "locked",
    "lock_reason",
    "intent",
    "path",
    "fr_window",
    "fr_group",
    "fr_key",
}
FOLLOW_UP_PATHS = {"AUTO": gettext_lazy("자동"), "HUMAN": gettext_lazy("사람")}
FR_GROUPS = {
    "all": gettext_lazy("전체"),
    "by_path": gettext_lazy("경로"),
    "by_account": gettext_lazy("계정"),
    "by_intent": gettext_lazy("의도"),
}


def first_response_rows(report: dict) -> list[dict]:
    """The first-response report as table rows: per window, everything, then per path, account, intent."""
    rows = []
    for window, groups in report["windows"].items():
        for group, label in FR_GROUPS.items():
            entries = [{"key": "", **groups[group]}] if group == "all" else groups[group]
            for e in entries:
                key = _path_label(e["key"]) if group == "by_path" else e["key"]
                row = {"fr_window": window, "fr_group": str(label), "fr_key": key, "count": e["count"]}
                for part in ("wait", "ours", "in_hours", "outside_hours"):
                    for p in ("p50", "p90", "p95"):
                        row[f"{part}_{p}"] = human_duration(e[part][p]) if e["count"] else None
                rows.append(row)
    return rows


def table(rows: list[dict], columns: list[str]) -> list[str]:
    """The rows as an aligned table (Korean headers, numbers right-aligned), indented by two spaces."""
    if not rows:
        return ["  " + _("(없음)")]

    def cell(row: dict, column: str) -> str:
        value = row.get(column)
        if value is None:
            return "-"
        if isinstance(value, bool):
            return _("잠김") if value else ""
        if column == "mode":
            return mode_label(value)
        if column == "path":
            return str(FOLLOW_UP_PATHS.get(value, value))
        return str(value)

    right = [i for i, c in enumerate(columns) if c not in TEXT_COLUMNS]
    lines = cli.table(
        [str(HEADERS.get(c, c)) for c in columns], [[cell(r, c) for c in columns] for r in rows], right=right
    )
    return ["  " + line for line in lines]


class Command(BaseCommand):
    help = _("가이드의 모니터링 수치: 섀도 통계, 실패율, 실시간 자동 전송, 한도.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--window", default="24h", help=_("집계 기간: %(choices)s (기본 24h)") % {"choices": ", ".join(WINDOWS)}
        )
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help=_("출력 형식: table(사람용) 또는 json(기계용)")
        )

    def handle(self, *args, window, format, **options):
        if window not in WINDOWS:
            raise CommandError(
                _("알 수 없는 기간 '%(window)s' (%(choices)s 중 하나)")
                % {"window": window, "choices": ", ".join(WINDOWS)}
            )
        report = kpi_report(window=window)
        if format == "json":
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str))
            return
        w = self.stdout.write
        a = report["send_attempts"]
        generated = report["generated_at"]
        generated = parse_datetime(generated) if isinstance(generated, str) else generated
        w(_("KPI — 기간 %(window)s, %(at)s 기준") % {"window": window, "at": cli.local_time(generated)})
        w(
            _("실제 전송 시도 %(attempts)s건, 실패 %(failed)s건, 실패율 %(rate)s (테스트 모드 제외)")
            % {
                "attempts": a["attempts"],
                "failed": a["failed"],
                "rate": "-" if a["failure_rate"] is None else f"{a['failure_rate']}%",
            }
        )
        w("\n" + _("[1.2] 일별 문의와 AUTO_SEND 판정 (7일; 섀도 모드에서는 후보)"))
        for line in table(report["shadow_stats_7d"], ["date", "total", "auto_send", "shadow_candidates", "auto_rate"]):
            w(line)
        w("\n" + _("[1.3] 마켓·계정별 실패율 (%(window)s; 실제 전송을 시도한 문의)") % {"window": window})
        for line in table(
            report["failure_rates"], ["market", "account", "attempted", "sent", "failed", "unknown", "failure_rate"]
        ):
            w(line)
        w("\n" + _("[4.1.1] 기간(%(window)s) 안의 마켓별 AUTO_SEND 판정") % {"window": window})
        for line in table(
            report["realtime_auto_send"], ["market", "total", "sent", "failed", "test_mode", "avg_confidence"]
        ):
            w(line)
        w("\n" + _("[4.1.2] 일별 실제 전송 실패율 (%, 7일)"))
        for line in table(report["failure_rate_by_day_7d"], ["day", "attempts", "failed", "rate"]):
            w(line)
        w("\n" + _("[첫 응답 시간] 고객 문의부터 첫 답변까지 (1h·24h·7d, 영업시간 외 대기는 따로)"))
        w("  " + _("영업시간: %(hours)s") % {"hours": report["first_response"]["business_hours"]})
        for line in table(
            first_response_rows(report["first_response"]),
            [
                "fr_window",
                "fr_group",
                "fr_key",
                "count",
                "wait_p50",
                "wait_p90",
                "wait_p95",
                "ours_p95",
                "in_hours_p95",
                "outside_hours_p95",
            ],
        ):
            w(line)
        w("\n" + _("[3.2.4] 계정별 오늘 전송과 한도, 24시간 실패율(%), 연속 실패"))
        for line in table(
            report["quota_today"],
            [
                "account",
                "mode",
                "phase",
                "sent_today",
                "quota_used",
                "quota",
                "failure_rate_24h",
                "consecutive_failures",
                "locked",
                "lock_reason",
            ],
        ):
            w(line)
        w("\n" + _("[5.1] 답변 뒤 재문의 (%(window)s; 자동 답변 vs 사람 답변, 같은 주문·구매자)") % {"window": window})
        columns = ["path", "answers", "follow_ups", "repeats", "complaints", "follow_up_rate", "complaint_rate"]
        for line in table(report["follow_up"]["by_path"], columns):
            w(line)
        for line in table(report["follow_up"]["by_account_intent"], ["account", "intent", *columns]):
            w(line)


def _path_label(key: str) -> str:
    return str(AnswerPath(key).label) if key in AnswerPath.values else key
