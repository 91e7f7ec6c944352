"""Replay inquiries through the agent and a proposed policy. Never sends, never writes."""

from __future__ import annotations

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from partialauto.cli import table
from policy import services
from policy.controls import load_account_controls, load_global
from policy.engine import reason_label
from policy.kpi import WINDOWS
from policy.quota import quota_used
from policy.simulate import (
    SimulationInputError,
    proposed_controls,
    read_jsonl,
    simulate,
    stored_items,
    summarize,
    virtual_controls,
)


class Command(BaseCommand):
    help = _(
        "문의(JSONL 또는 저장된 문의)를 에이전트와 현재 정책 또는 제안한 정책으로 다시 판정합니다. "
        "보내지도, 저장하지도 "
        "않습니다."
    )

    def add_arguments(self, parser):
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument(
            "--input", metavar="FILE.jsonl", help=_('한 줄에 {"id", "content", ...} 객체 하나; -이면 표준 입력')
        )
        src.add_argument("--since", help=_("이 기간의 저장된 문의: 1h, 24h, 7d 또는 30d"))
        parser.add_argument("--account", default=None, help=_("이 계정의 모드·단계·한도로 판정"))
        parser.add_argument("--full-unlock", action="store_true", help=_("마지막 단계의 LIVE, 항상 영업 중인 것처럼"))
        parser.add_argument("--threshold", type=float, default=None, help=_("제안하는 신뢰도 임계값 (0~1)"))
        parser.add_argument("--phase", default=None, help=_("제안하는 단계 (번호 또는 이름)"))
        parser.add_argument("--at", default=None, help=_("이 ISO 시각 기준으로 판정 (영업시간)"))
        parser.add_argument(
            "--format",
            choices=["jsonl", "table"],
            default="jsonl",
            help=_("출력 형식: jsonl(기계용) 또는 table(사람용)"),
        )

    def handle(self, *args, **o):
        try:
            at = dt.datetime.fromisoformat(o["at"]) if o["at"] else timezone.now()
        except ValueError:
            raise CommandError(
                _("--at: '%(value)s'은(는) ISO 날짜·시각이 아닙니다 (예: 2026-11-26T10:30:00+09:00)")
                % {"value": o["at"]}
            ) from None
        if timezone.is_naive(at):
            at = timezone.make_aware(at)
        try:
            account = services.get_account(o["account"]) if o["account"] else None
            phase = services.get_phase(o["phase"]) if o["phase"] else None
        except services.RolloutError as exc:
            raise CommandError(str(exc)) from exc
        glob = load_global()
        try:  # the proposal is checked before any row is read: a refusal is a message, not a traceback
            proposed_controls(virtual_controls(), full_unlock=o["full_unlock"], threshold=o["threshold"], phase=phase)
        except SimulationInputError as exc:
            raise CommandError(str(exc)) from exc
        cache: dict = {}

        def controls_for(item: dict):
            target = account or item.get("_account")
            key = target.pk if target is not None else None
            if key not in cache:
                base = load_account_controls(target, glob=glob) if target is not None else virtual_controls()
                try:
                    cache[key] = proposed_controls(
                        base, full_unlock=o["full_unlock"], threshold=o["threshold"], phase=phase
                    )
                except SimulationInputError as exc:
                    raise CommandError(str(exc)) from exc
                cache[(key, "used")] = quota_used(account_id=target.pk, at=at) if target is not None else 0
            item["_quota_used"] = cache[(key, "used")]
            return cache[key]

        errors = 0
        if o["input"]:
            try:
                handle = sys.stdin if o["input"] == "-" else open(o["input"], encoding="utf-8")
            except OSError as exc:
                raise CommandError(
                    _("%(file)s을(를) 읽을 수 없습니다: %(error)s") % {"file": o["input"], "error": exc.strerror}
                ) from exc

            def items():
                nonlocal errors
                with handle:
                    for number, item, error in read_jsonl(handle):
                        if error:
                            errors += 1
                            self.stderr.write(
                                _("%(number)d번째 줄: %(error)s (건너뜀)") % {"number": number, "error": error}
                            )
                            continue
                        yield item

            source = items()
        else:
            if o["since"] not in WINDOWS:
                raise CommandError(
                    _("--since: 알 수 없는 기간 '%(value)s' (%(choices)s 중 하나)")
                    % {"value": o["since"], "choices": ", ".join(WINDOWS)}
                )
            source = stored_items(since=WINDOWS[o["since"]], account=account)

        seller = account.seller_name if account else ""
        rows = []
        for row in simulate(source, controls_for=controls_for, at=at, seller_name=seller, account=account):
            if o["format"] == "jsonl":
                self.stdout.write(json.dumps(row, ensure_ascii=False, default=str))
            rows.append(row)
        if o["format"] == "table":
            s = summarize(rows)
            self.stdout.write(
                _("문의 %(total)d건   자동 전송(AUTO_SEND) %(auto)d건   사람 검토(HUMAN_REVIEW) %(human)d건")
                % {"total": s["total"], "auto": s["would_auto_send"], "human": s["total"] - s["would_auto_send"]}
            )
            self.stdout.write("\n" + _("의도별:"))
            rows_ = [[intent, c.get("AUTO_SEND", 0), c.get("HUMAN_REVIEW", 0)] for intent, c in s["by_intent"].items()]
            for line in table([_("의도"), "AUTO_SEND", "HUMAN_REVIEW"], rows_, right=(1, 2)):
                self.stdout.write("  " + line)
            self.stdout.write("\n" + _("사유별:"))
            reasons = [[reason_label(code), code, n] for code, n in s["by_reason"].items()]
            for line in table([_("사유"), _("코드"), _("건수")], reasons, right=(2,)):
                self.stdout.write("  " + line)
        if errors:
            raise CommandError(_("입력 %(n)d줄을 읽지 못해 건너뛰었습니다") % {"n": errors})
