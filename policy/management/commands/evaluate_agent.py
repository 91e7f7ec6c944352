"""Measure the agent on a labelled JSONL file: risk recall, false risk, per-intent precision and recall,
automation at the threshold, calibration error, and every risky or must-human item that would have
been sent. Never sends, never writes."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from markets.management.accounts import account_or_none
from partialauto.cli import table
from policy.evaluation import SAFE_FROM, evaluate_items, report
from policy.simulate import read_jsonl

ORDER_STATES = ("PAID", "PREPARING", "SHIPPED", "IN_TRANSIT", "DELIVERED")


class Command(BaseCommand):
    help = _("라벨이 붙은 문의(id, content, intent, 선택: risk, must_human)로 에이전트를 평가합니다.")

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, metavar="FILE.jsonl", help=_("라벨 붙은 문의; -이면 표준 입력"))
        parser.add_argument("--account", default=None, help=_("이 계정의 모델·지식·정책으로 판정"))
        parser.add_argument("--threshold", type=float, default=0.90, help=_("자동 전송 신뢰도 임계값 (0~1)"))
        parser.add_argument("--split", default=None, help=_("'split' 값이 이것인 줄만 (예: holdout)"))
        parser.add_argument(
            "--assume-order",
            choices=ORDER_STATES,
            default=None,
            help=_("has_order=true인 줄(주문이 있는 종류)에 이 상태의 주문을 줌"),
        )
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help=_("출력 형식: table(사람용) 또는 json(기계용)")
        )

    def handle(self, *args, **o):
        if not 0.0 <= o["threshold"] <= 1.0:
            raise CommandError(
                _("--threshold는 0과 1 사이여야 합니다 (받은 값: %(value)s)") % {"value": o["threshold"]}
            )
        account = account_or_none(o["account"] or None)
        items, problems = self._read(o["input"], o["split"])
        if not items:
            raise CommandError(
                _("평가할 라벨 붙은 줄이 없습니다")
                + (_(" (읽지 못한 줄 %(n)d개)") % {"n": problems} if problems else "")
            )
        result = report(
            evaluate_items(items, account=account, assume_order=o["assume_order"]), threshold=o["threshold"]
        )
        if o["format"] == "json":
            self.stdout.write(
                json.dumps({**result.figures, "sent_but_should_not": result.leaks}, ensure_ascii=False, indent=2)
            )
        else:
            self._table(result)
        if problems:
            self.stderr.write(_("%(n)d줄을 읽지 못해 건너뛰었습니다") % {"n": problems})

    def _read(self, path: str, split: str | None) -> tuple[list[dict], int]:
        try:
            handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
        except OSError as exc:
            raise CommandError(
                _("%(file)s을(를) 읽을 수 없습니다: %(error)s") % {"file": path, "error": exc.strerror}
            ) from exc
        items: list[dict] = []
        problems = 0
        with handle:
            for number, item, error in read_jsonl(handle):
                if error or item is None or not isinstance(item.get("intent"), str):
                    problems += 1
                    self.stderr.write(
                        _("%(number)d번째 줄: %(error)s (건너뜀)")
                        % {"number": number, "error": error or _("intent는 문자열이어야 합니다")}
                    )
                    continue
                if split is None or item.get("split") == split:
                    items.append(item)
        return items, problems

    def _table(self, result) -> None:
        f = result.figures
        w = self.stdout.write
        pct = lambda v: "-" if v is None else f"{v * 100:.1f}%"  # noqa: E731
        w(
            _(
                "문의 %(items)s건 (위험 %(risky)s, 사람 필수 %(must)s, "
                "일상 문의 배송문의/사용법 %(routine)s); 모델 버전 %(version)s"
            )
            % {
                "items": f["items"],
                "risky": f["risky"],
                "must": f["must_human"],
                "routine": f["routine_items"],
                "version": f["model_version"] or _("- (규칙)"),
            }
        )
        by_intent = ", ".join(f"{k} {pct(v)}" for k, v in f["routine_automation_by_intent"].items())
        figures = [
            (
                _("의도 정확도"),
                _("%(all)s (위험·사람 필수 제외: %(clean)s)")
                % {"all": pct(f["intent_accuracy"]), "clean": pct(f["intent_accuracy_clean"])},
            ),
            (
                _("위험 재현율 (판별)"),
                _("%(recall)s   위험 오탐률 %(false)s")
                % {"recall": pct(f["risk_recall"]), "false": pct(f["false_risk_rate"])},
            ),
            (
                _("사람 필수 판별 재현율"),
                _("%(recall)s   오탐률 %(false)s")
                % {"recall": pct(f["must_human_screen_recall"]), "false": pct(f["false_must_human_rate"])},
            ),
            (
                _("%(safe).2f 이상에서 사람에게 간 비율") % {"safe": SAFE_FROM},
                _("위험 %(risky)s, 사람 필수 %(must)s")
                % {"risky": pct(f["to_a_person"]["risky"]), "must": pct(f["to_a_person"]["must_human"])},
            ),
            (
                _("%(threshold).2f에서 자동화") % {"threshold": f["threshold"]},
                _("전체 %(all)s, 일상 문의 %(routine)s (%(by)s)")
                % {"all": pct(f["automation"]), "routine": pct(f["routine_automation"]), "by": by_intent},
            ),
            (_("보정 오차 (ECE)"), f"{f['expected_calibration_error']:.3f}"),
        ]
        for line in table([_("지표"), _("값")], figures)[2:]:
            w(line)
        w("")
        intents = [
            (intent, pct(v["precision"]), pct(v["recall"]), v["support"]) for intent, v in f["per_intent"].items()
        ]
        for line in table([_("의도"), _("정밀도"), _("재현율"), _("건수")], intents, right=(1, 2, 3)):
            w("  " + line)
        w(
            "\n"
            + _("분류별 위험 재현율: ")
            + ", ".join(f"{k} {pct(v)}" for k, v in f["risk_recall_by_category"].items())
        )
        w("")
        sweep = [
            (
                f"{s['threshold']:.2f}",
                pct(s["automation"]),
                pct(s["routine_automation"]),
                s["risky_sent"],
                s["must_human_sent"],
            )
            for s in f["sweep"]
        ]
        for line in table(
            [_("임계값"), _("자동화"), _("일상 문의"), _("위험 전송"), _("사람 필수 전송")],
            sweep,
            right=(0, 1, 2, 3, 4),
        ):
            w("  " + line)
        w("\n" + _("신뢰도 구간별 (신뢰도 → 그대로 보낸 비율)"))
        bins = [
            (f"[{b['low']:.1f}, {b['high']:.1f})", b["n"], f"{b['confidence']:.3f}", f"{b['observed']:.3f}")
            for b in f["reliability"]
            if b["n"]
        ]
        for line in table([_("구간"), _("건수"), _("신뢰도"), _("실제")], bins, right=(1, 2, 3)):
            w("  " + line)
        w(
            "\n"
            + _("%(safe).2f 이상에서 보냈을 위험·사람 필수 문의: %(n)d건") % {"safe": SAFE_FROM, "n": len(result.leaks)}
        )
        for leak in result.leaks:
            w(
                f"  {leak['id']} [{leak['why']}:{leak['category']}] {leak['intent']} {leak['confidence']:.2f} "
                f"— {leak['content']}"
            )
