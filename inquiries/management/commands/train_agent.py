"""Train a new version of the agent's text models and store it with its figures (inactive unless
--activate). What it learns from: the shipped labelled set (never its held-out part) and the intents the
seller's people set or confirmed in the review queue."""

from __future__ import annotations

import getpass
import json

from django.core.management.base import BaseCommand, CommandError

from inquiries.agent_models import AgentModelError, train_and_store
from markets.management.accounts import account_or_none


class Command(BaseCommand):
    help = "Train the intent model, the learned screens and the confidence calibration; store a new version."

    def add_arguments(self, parser):
        parser.add_argument("--account", default=None, help="learn from this account's labels and use it for it only")
        parser.add_argument("--activate", action="store_true", help="decide with the new version right away")
        parser.add_argument("--notes", default="", help="why this version was trained (kept with it)")
        parser.add_argument("--by", default=None, help="who trains it (default: the shell user)")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, account, activate, notes, by, format, **options):
        target = account_or_none(account or None)
        actor = by or f"shell:{getpass.getuser()}"
        try:
            trained = train_and_store(actor=actor, account=target, activate=activate, notes=notes)
        except AgentModelError as exc:
            raise CommandError(str(exc)) from exc
        model, metrics = trained.model, trained.metrics
        if format == "json":
            self.stdout.write(json.dumps({"version": model.version, "active": model.is_active,
                                          "training_data": model.training_data, "metrics": metrics},
                                         ensure_ascii=False, indent=2))
            return
        held, oof = metrics["held_out"], metrics["out_of_fold"]
        data = model.training_data
        self.stdout.write(f"version {model.version} ({'active' if model.is_active else 'stored, not active'})"
                          f"{' for ' + target.name if target else ''}")
        self.stdout.write(f"trained on {data['shipped']} shipped examples + {data['seller_labels']} seller labels; "
                          f"measured on a held-out {data['held_out']} before the final fit")
        self.stdout.write(f"  held-out intent accuracy      {held['intent_accuracy']:.3f}")
        self.stdout.write(f"  held-out calibration error    {held['expected_calibration_error']:.3f}")
        self.stdout.write(f"  learned risk screen recall    {_pct(held['learned_risk_recall'])} "
                          f"(false {_pct(held['learned_risk_false_rate'])})")
        self.stdout.write(f"  learned person screen recall  {_pct(held['learned_person_recall'])}")
        self.stdout.write(f"  out-of-fold intent accuracy   {oof['intent_accuracy']:.3f} (all {oof['examples']} examples)")
        self.stdout.write("  per intent (held out): " + ", ".join(
            f"{k} P{_pct(v['precision'])}/R{_pct(v['recall'])}" for k, v in held["per_intent"].items()))
        if not model.is_active:
            self.stdout.write("activate it in the admin (AI 모델 버전) or train again with --activate")


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
