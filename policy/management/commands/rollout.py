"""Rollout operations of the guide's phases 2–4: unlock, lock, emergency stop, resume, settings.

Every change is recorded with who (``--by`` a Django user, else the shell user), when and why, and
the command prints the resulting state.
"""

from __future__ import annotations

import getpass
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from policy import services
from policy.selectors import rollout_rows
from policy.services import Actor, RolloutError


def _onoff(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("on", "true", "1", "yes"):
        return True
    if v in ("off", "false", "0", "no"):
        return False
    raise CommandError(f"'{value}' is not on or off")


class Command(BaseCommand):
    help = "Staged rollout: status, unlock, lock, emergency-stop, resume, settings, import-env."

    def add_arguments(self, parser):
        parser.add_argument("--by", default=None, help="the Django user doing this (default: the shell user)")
        sub = parser.add_subparsers(dest="action", required=True, metavar="{status,unlock,lock,emergency-stop,resume,settings,import-env}")
        status = sub.add_parser("status", help="every account's mode, phase, quota and lock")
        status.add_argument("--format", choices=["table", "json"], default="table")
        unlock = sub.add_parser("unlock", help="set an account's mode (and phase)")
        unlock.add_argument("account")
        unlock.add_argument("--mode", required=True, help="LIVE, TEST or SHADOW")
        unlock.add_argument("--phase", default=None, help="the phase's number (1, 2, 3) or name")
        unlock.add_argument("--reason", default="")
        lock = sub.add_parser("lock", help="take an account's unlock away")
        lock.add_argument("account")
        lock.add_argument("--reason", required=True)
        stop = sub.add_parser("emergency-stop", help="stop every real send now")
        stop.add_argument("--reason", required=True)
        resume = sub.add_parser("resume", help="lift the emergency stop (test mode stays on)")
        resume.add_argument("--reason", default="")
        settings_ = sub.add_parser("settings", help="partial-auto switch, test mode, threshold, business hours")
        settings_.add_argument("--partial-auto", choices=["on", "off"], default=None)
        settings_.add_argument("--test-mode", choices=["on", "off"], default=None)
        settings_.add_argument("--threshold", type=float, default=None)
        settings_.add_argument("--hours", default=None, help='e.g. "mon-fri 09:00-18:00" or always')
        settings_.add_argument("--reason", default="")
        sub.add_parser("import-env", help="copy the guide's four .env variables into the database")

    def _actor(self, by: str | None) -> Actor:
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(f"unknown user '{by}'")
            if not user.has_perm("policy.unlock_account"):
                raise CommandError(f"user '{by}' does not have the rollout-manager role")
            return Actor.of(user)
        try:
            name = getpass.getuser()
        except Exception:
            name = "unknown"
        return Actor(f"cli:{name}")

    def handle(self, *args, action, by=None, **opts):
        try:
            if action == "status":
                return self._status(opts["format"])
            actor = self._actor(by)
            if action == "unlock":
                account = services.get_account(opts["account"])
                rollout = services.rollout_for(account)
                if rollout.locked_at is not None and actor.user is None:
                    raise CommandError(f"{account.name} is locked ({rollout.lock_reason}); unlocking it again needs a "
                                       "person with the rollout-manager role: add --by USER and --reason")
                mode = services.parse_mode(opts["mode"])
                phase = services.get_phase(opts["phase"]) if opts["phase"] is not None else None
                services.rollout_unlock(account=account, mode=mode, phase=phase, actor=actor, reason=opts["reason"])
                from policy.controls import load_account_controls

                controls = load_account_controls(account)
                self.stdout.write(self.style.SUCCESS(f"{account.name}: unlocked in {mode}"))
                if controls.effective_mode != mode:
                    self.stdout.write(self.style.WARNING(
                        f"  it runs as {controls.effective_mode} for now: {'; '.join(controls.mode_reasons)}"))
            elif action == "lock":
                account = services.get_account(opts["account"])
                services.rollout_lock(account=account, reason=opts["reason"], actor=actor)
                self.stdout.write(self.style.WARNING(f"{account.name}: locked ({opts['reason']})"))
            elif action == "emergency-stop":
                services.emergency_stop(reason=opts["reason"], actor=actor)
                self.stdout.write(self.style.ERROR(f"EMERGENCY STOP: every real send is blocked ({opts['reason']})"))
            elif action == "resume":
                services.resume(actor=actor, reason=opts["reason"])
                self.stdout.write(self.style.SUCCESS("emergency stop lifted; test mode stays as it is"))
            elif action == "settings":
                services.settings_update(
                    actor=actor, reason=opts["reason"], partial_auto=_onoff(opts["partial_auto"]),
                    test_mode=_onoff(opts["test_mode"]), threshold=opts["threshold"], hours=opts["hours"],
                )
                self.stdout.write(self.style.SUCCESS("settings updated"))
            elif action == "import-env":
                result = services.import_env(actor=actor)
                self.stdout.write(self.style.SUCCESS("imported: " + json.dumps(result, ensure_ascii=False)))
        except RolloutError as exc:
            raise CommandError(str(exc)) from exc
        self._status("table")

    def _status(self, fmt: str) -> None:
        from policy.controls import load_global
        from policy.services import env_overrides_summary

        glob = load_global()
        rows = rollout_rows()
        if fmt == "json":
            payload = {
                "partial_auto": glob.partial_auto, "test_mode": glob.test_mode, "threshold": glob.threshold,
                "emergency_stop": glob.emergency_stopped, "emergency_reason": glob.emergency_reason,
                "business_hours": glob.calendar.describe(), "env": env_overrides_summary(),
                "accounts": [
                    {"name": r.account.name, "market": r.account.market_code, "active": r.account.is_active,
                     "mode": r.controls.configured_mode, "effective_mode": r.controls.effective_mode,
                     "mode_reasons": list(r.controls.mode_reasons),
                     "phase": None if r.controls.phase_is_default else r.controls.phase_number,
                     "allowed_intents": sorted(r.controls.allowed_intents) if r.controls.allowed_intents is not None else "all",
                     "quota": r.controls.daily_quota, "quota_used_today": r.quota_used, "sent_today": r.sent_today,
                     "failure_rate_24h": r.failure_rate_24h, "attempts_24h": r.attempts_24h,
                     "locked": r.controls.locked, "lock_reason": r.controls.lock_reason}
                    for r in rows
                ],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
            return
        w = self.stdout.write
        w(f"partial-auto: {'ON' if glob.partial_auto else 'OFF (shadow)'} | test mode: {'ON' if glob.test_mode else 'off'}"
          f" | threshold: {glob.threshold:.2f} | business hours: {glob.calendar.describe()}")
        if glob.emergency_stopped:
            w(self.style.ERROR(f"EMERGENCY STOP in force: {glob.emergency_reason}"))
        for line in env_overrides_summary():
            w(self.style.WARNING(f"env: {line}"))
        header = f"{'account':<16} {'market':<10} {'mode':<7} {'effective':<9} {'phase':<6} {'intents':<24} {'today':>9} {'fail24h':>8}  lock"
        w(header)
        w("-" * len(header))
        for r in rows:
            c = r.controls
            intents = "all" if c.allowed_intents is None else ",".join(sorted(c.allowed_intents))
            quota = f"{r.quota_used}/{c.daily_quota}" if c.daily_quota is not None else f"{r.sent_today}/∞"
            rate = "-" if r.failure_rate_24h is None else f"{r.failure_rate_24h * 100:.1f}%"
            phase = "-" if c.phase_is_default else str(c.phase_number)
            active = "" if r.account.is_active else " (inactive)"
            w(f"{r.account.name + active:<16} {r.account.market_code:<10} {c.configured_mode:<7} {c.effective_mode:<9} "
              f"{phase:<6} {intents:<24} {quota:>9} {rate:>8}  {c.lock_reason if c.locked else ''}")
