"""Train a new version of the agent's text models and store it with its figures (inactive unless
--activate). What it learns from: the shipped labelled set (never its held-out part) and the intents the
seller's people set or confirmed in the review queue."""

from __future__ import annotations

import getpass
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from inquiries.agent_models import AgentModelError, train_and_store
from markets.management.accounts import account_or_none
from partialauto import cli


class Command(BaseCommand):
    help = _("의도 모델, 학습된 위험 판별, 신뢰도 보정을 학습해 새 버전으로 저장합니다.")

    def add_arguments(self, parser):
        parser.add_argument("--account", default=None, help=_("이 계정의 라벨로 학습하고 이 계정에만 씀"))
        parser.add_argument("--activate", action="store_true", help=_("새 버전으로 바로 판정"))
        parser.add_argument("--notes", default="", help=_("이 버전을 학습한 이유 (버전과 함께 보관)"))
        parser.add_argument("--by", default=None, help=_("학습하는 사람 (기본: 셸 사용자)"))
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help=_("출력 형식: table(사람용) 또는 json(기계용)")
        )

    def handle(self, *args, account, activate, notes, by, format, **options):
        target = account_or_none(account or None)
        actor = by or f"shell:{getpass.getuser()}"
        try:
            trained = train_and_store(actor=actor, account=target, activate=activate, notes=notes)
        except AgentModelError as exc:
            raise CommandError(str(exc)) from exc
        model, metrics = trained.model, trained.metrics
        if format == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "version": model.version,
                        "active": model.is_active,
                        "training_data": model.training_data,
                        "metrics": metrics,
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        held, oof = metrics["held_out"], metrics["out_of_fold"]
        data = model.training_data
        state = _("사용 중") if model.is_active else _("저장됨, 사용 안 함")
        scope = _(" (%(account)s 전용)") % {"account": target.name} if target else ""
        self.stdout.write(
            _("버전 %(version)s (%(state)s)%(scope)s") % {"version": model.version, "state": state, "scope": scope}
        )
        self.stdout.write(
            _(
                "제공 예시 %(shipped)s건 + 판매자 라벨 %(labels)s건으로 학습; 최종 학습 전에 따로 떼어 둔 "
                "%(held)s건으로 측정"
            )
            % {"shipped": data["shipped"], "labels": data["seller_labels"], "held": data["held_out"]}
        )
        rows = [
            (_("검증용 의도 정확도"), f"{held['intent_accuracy']:.3f}"),
            (_("검증용 보정 오차"), f"{held['expected_calibration_error']:.3f}"),
            (
                _("학습된 위험 판별 재현율"),
                _("%(recall)s (오탐 %(false)s)")
                % {"recall": _pct(held["learned_risk_recall"]), "false": _pct(held["learned_risk_false_rate"])},
            ),
            (_("학습된 사람 필요 판별 재현율"), _pct(held["learned_person_recall"])),
            (
                _("교차 검증 의도 정확도"),
                _("%(accuracy).3f (전체 %(n)s건)") % {"accuracy": oof["intent_accuracy"], "n": oof["examples"]},
            ),
        ]
        for line in cli.table([_("지표"), _("값")], rows)[2:]:
            self.stdout.write("  " + line)
        self.stdout.write(
            "  "
            + _("의도별 (검증용): ")
            + ", ".join(f"{k} P{_pct(v['precision'])}/R{_pct(v['recall'])}" for k, v in held["per_intent"].items())
        )
        if not model.is_active:
            self.stdout.write(_("관리자 화면(AI 모델 버전)에서 사용을 시작하거나 --activate로 다시 학습하세요"))


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
