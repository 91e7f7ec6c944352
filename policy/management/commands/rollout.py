"""Rollout operations of the guide's phases 2–4: unlock, lock, emergency stop, resume, settings.

Every change is recorded with who (``--by`` a Django user, else the shell user), when and why, and
the command prints the resulting state.
"""

from __future__ import annotations

import getpass
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from partialauto.cli import table
from policy import services
from policy.change_risks import settings_risks
from policy.engine import mode_label
from policy.selectors import approved_answers_held, held_answers_note, rollout_rows
from policy.services import Actor, RolloutError


def _onoff(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("on", "true", "1", "yes"):
        return True
    if v in ("off", "false", "0", "no"):
        return False
    raise CommandError(_("'%(value)s'은(는) on 또는 off가 아닙니다") % {"value": value})


class Command(BaseCommand):
    help = _(
        "단계적 롤아웃: status(상태), unlock(해금), lock(잠금), emergency-stop(긴급 정지), resume(재개), "
        "settings(설정), import-env(.env 가져오기), restore-intent(불만 재문의로 중단된 의도 복구)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--by", default=None, help=_("이 작업을 하는 Django 사용자 (기본: 셸 사용자)"))
        sub = parser.add_subparsers(
            dest="action",
            required=True,
            metavar="{status,unlock,lock,emergency-stop,resume,settings,import-env,restore-intent}",
        )
        status = sub.add_parser("status", help=_("모든 계정의 모드, 단계, 한도, 잠금"))
        status.add_argument(
            "--format", choices=["table", "json"], default="table", help=_("출력 형식: table(사람용) 또는 json(기계용)")
        )
        unlock = sub.add_parser("unlock", help=_("계정의 모드(와 단계)를 정함"))
        unlock.add_argument("account", help=_("계정 이름"))
        unlock.add_argument("--mode", required=True, help=_("LIVE, TEST 또는 SHADOW"))
        unlock.add_argument("--phase", default=None, help=_("단계 번호(1, 2, 3) 또는 이름"))
        unlock.add_argument("--reason", default="")
        lock = sub.add_parser("lock", help=_("계정의 해금을 거둠 (섀도로)"))
        lock.add_argument("account", help=_("계정 이름"))
        lock.add_argument("--reason", required=True)
        stop = sub.add_parser("emergency-stop", help=_("모든 실제 전송을 지금 멈춤"))
        stop.add_argument("--reason", required=True)
        resume = sub.add_parser("resume", help=_("긴급 정지 해제 (테스트 모드는 켜진 채)"))
        resume.add_argument("--reason", default="")
        settings_ = sub.add_parser("settings", help=_("부분 자동화 스위치, 테스트 모드, 임계값, 영업시간"))
        settings_.add_argument("--partial-auto", choices=["on", "off"], default=None, help=_("부분 자동화 스위치"))
        settings_.add_argument("--test-mode", choices=["on", "off"], default=None, help=_("전역 테스트 모드"))
        settings_.add_argument("--threshold", type=float, default=None, help=_("자동 전송 신뢰도 임계값 (0~1)"))
        settings_.add_argument("--hours", default=None, help=_('영업시간, 예: "mon-fri 09:00-18:00" 또는 always'))
        settings_.add_argument("--reason", default="")
        sub.add_parser("import-env", help=_("가이드의 .env 변수 네 개를 데이터베이스로 복사"))
        restore = sub.add_parser(
            "restore-intent", help=_("불만 재문의 규칙이 자동화에서 뺀 의도를 그 계정에 되돌림 (롤아웃 관리자)")
        )
        restore.add_argument("account", help=_("계정 이름"))
        restore.add_argument("intent", help=_("의도 (예: 배송문의)"))
        restore.add_argument("--reason", required=True)

    def _actor(self, by: str | None) -> Actor:
        if by:
            user = get_user_model().objects.filter(username=by).first()
            if user is None:
                raise CommandError(_("알 수 없는 사용자 '%(user)s'") % {"user": by})
            if not user.has_perm("policy.unlock_account"):
                raise CommandError(
                    _("사용자 '%(user)s'에게 롤아웃 관리자(rollout-manager role) 권한이 없습니다") % {"user": by}
                )
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
            self._refuse_unrecorded(action, opts)
            actor = self._actor(by)
            held_before = approved_answers_held()
            if action == "unlock":
                account = services.get_account(opts["account"])
                rollout = services.rollout_for(account)
                if rollout.locked_at is not None and actor.user is None:
                    raise CommandError(
                        _(
                            "%(account)s 계정은 잠겨 있습니다 (%(reason)s). 다시 해금하려면 롤아웃 관리자"
                            '(rollout-manager role)가 필요합니다: --by 사용자 와 --reason "사유"를 붙이세요'
                        )
                        % {"account": account.name, "reason": rollout.lock_reason}
                    )
                mode = services.parse_mode(opts["mode"])
                phase = services.get_phase(opts["phase"]) if opts["phase"] is not None else None
                services.rollout_unlock(account=account, mode=mode, phase=phase, actor=actor, reason=opts["reason"])
                from policy.controls import load_account_controls

                controls = load_account_controls(account)
                self.stdout.write(
                    self.style.SUCCESS(
                        _("%(account)s: %(mode)s(으)로 해금했습니다")
                        % {"account": account.name, "mode": mode_label(mode)}
                    )
                )
                if controls.effective_mode != mode:
                    self.stdout.write(
                        self.style.WARNING(
                            _("  지금은 %(mode)s(으)로 동작합니다: %(reasons)s")
                            % {"mode": mode_label(controls.effective_mode), "reasons": "; ".join(controls.mode_reasons)}
                        )
                    )
            elif action == "lock":
                account = services.get_account(opts["account"])
                services.rollout_lock(account=account, reason=opts["reason"], actor=actor)
                self.stdout.write(
                    self.style.WARNING(
                        _("%(account)s: 잠갔습니다 (%(reason)s)") % {"account": account.name, "reason": opts["reason"]}
                    )
                )
            elif action == "emergency-stop":
                services.emergency_stop(reason=opts["reason"], actor=actor)
                self.stdout.write(
                    self.style.ERROR(_("긴급 정지: 모든 실전송을 막았습니다 (%(reason)s)") % {"reason": opts["reason"]})
                )
                self.stdout.write(
                    self.style.WARNING(
                        gettext(
                            "승인된 답변은 테스트 전송으로 소모되지 않고 전송 대기합니다. "
                            "긴급 정지를 풀고 테스트 모드를 끄면 "
                            "다시 승인하지 않아도 전송됩니다."
                        )
                    )
                )
            elif action == "resume":
                services.resume(actor=actor, reason=opts["reason"])
                self.stdout.write(self.style.SUCCESS(_("긴급 정지를 해제했습니다. 테스트 모드는 그대로입니다")))
            elif action == "settings":
                for risk in self._settings_risks(opts):  # what this change starts doing for real, said first
                    self.stdout.write(self.style.WARNING(risk))
                services.settings_update(
                    actor=actor,
                    reason=opts["reason"],
                    partial_auto=_onoff(opts["partial_auto"]),
                    test_mode=_onoff(opts["test_mode"]),
                    threshold=opts["threshold"],
                    hours=opts["hours"],
                )
                self.stdout.write(self.style.SUCCESS(_("설정을 바꿨습니다")))
            elif action == "restore-intent":
                if actor.user is None:
                    raise CommandError(
                        _(
                            "의도 자동화 복구에는 롤아웃 관리자(rollout-manager role)가 필요합니다: "
                            '--by 사용자 와 --reason "사유"를 붙이세요'
                        )
                    )
                from policy.followup_rule import intent_restore

                account = services.get_account(opts["account"])
                intent_restore(account=account, intent=opts["intent"], reason=opts["reason"], actor=actor)
                self.stdout.write(
                    self.style.SUCCESS(
                        _("%(account)s: 의도 '%(intent)s'을(를) 자동화에 되돌렸습니다 (%(who)s, %(reason)s)")
                        % {
                            "account": account.name,
                            "intent": opts["intent"],
                            "who": actor.label,
                            "reason": opts["reason"],
                        }
                    )
                )
            elif action == "import-env":
                result = services.import_env(actor=actor)
                self.stdout.write(
                    self.style.SUCCESS(
                        _("가져왔습니다: %(values)s") % {"values": json.dumps(result, ensure_ascii=False)}
                    )
                )
            if action != "emergency-stop" and (note := held_answers_note(held_before=held_before)):
                self.stdout.write(self.style.WARNING(note))
        except RolloutError as exc:
            raise CommandError(str(exc)) from exc
        self._status("table")

    @staticmethod
    def _settings_risks(opts: dict) -> list[str]:
        """The admin's confirmation text for the same change; the command's confirmation is its reason."""
        return settings_risks(
            partial_auto_enabled=_onoff(opts["partial_auto"]),
            test_mode=_onoff(opts["test_mode"]),
            auto_send_threshold=opts["threshold"],
        )

    @staticmethod
    def _refuse_unrecorded(action: str, opts: dict) -> None:
        """A change without a reason, or a settings call that changes nothing, is refused, not recorded."""
        if action == "settings" and all(opts[k] is None for k in ("partial_auto", "test_mode", "threshold", "hours")):
            raise CommandError(
                _(
                    "바꿀 설정이 없습니다: --partial-auto, --test-mode, --threshold, --hours 중 "
                    '하나 이상과 --reason "사유"를 주세요'
                )
            )
        if action in ("unlock", "settings", "restore-intent") and not (opts.get("reason") or "").strip():
            raise CommandError(
                _('사유가 필요합니다: --reason "사유"를 붙이세요 (모든 변경은 누가·언제·무엇을·왜와 함께 기록됩니다)')
            )

    def _status(self, fmt: str) -> None:
        from policy.controls import load_global
        from policy.services import env_overrides_summary

        glob = load_global()
        rows = rollout_rows()
        held = approved_answers_held()
        if fmt == "json":
            payload = {
                "partial_auto": glob.partial_auto,
                "test_mode": glob.test_mode,
                "threshold": glob.threshold,
                "emergency_stop": glob.emergency_stopped,
                "emergency_reason": glob.emergency_reason,
                "approved_answers_held": held,
                "business_hours": glob.calendar.describe(),
                "env": env_overrides_summary(),
                "accounts": [
                    {
                        "name": r.account.name,
                        "market": r.account.market_code,
                        "active": r.account.is_active,
                        "mode": r.controls.configured_mode,
                        "effective_mode": r.controls.effective_mode,
                        "mode_reasons": list(r.controls.mode_reasons),
                        "phase": None if r.controls.phase_is_default else r.controls.phase_number,
                        "allowed_intents": sorted(r.controls.allowed_intents)
                        if r.controls.allowed_intents is not None
                        else "all",
                        "withdrawn_intents": sorted(r.controls.withdrawn_intents),
                        "quota": r.controls.daily_quota,
                        "quota_used_today": r.quota_used,
                        "sent_today": r.sent_today,
                        "failure_rate_24h": r.failure_rate_24h,
                        "attempts_24h": r.attempts_24h,
                        "locked": r.controls.locked,
                        "lock_reason": r.controls.lock_reason,
                    }
                    for r in rows
                ],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
            return
        w = self.stdout.write
        on, off = _("켜짐"), _("꺼짐")
        w(
            _("부분 자동화: %(partial)s | 테스트 모드: %(test)s | 기준값: %(threshold).2f | 영업시간: %(hours)s")
            % {
                "partial": on if glob.partial_auto else _("꺼짐 (섀도)"),
                "test": on if glob.test_mode else off,
                "threshold": glob.threshold,
                "hours": glob.calendar.describe(),
            }
        )
        if glob.emergency_stopped:
            w(self.style.ERROR(_("긴급 정지 중: %(reason)s") % {"reason": glob.emergency_reason}))
        for line in env_overrides_summary():
            w(self.style.WARNING(_("환경 변수: %(line)s") % {"line": line}))
        if held:
            w(
                self.style.WARNING(
                    gettext("승인 답변 %(n)d건이 테스트 모드·긴급 정지가 끝나기를 기다리는 중 (끝나면 전송)")
                    % {"n": held}
                )
            )
        lines = []
        for r in rows:
            c = r.controls
            intents = _("전체") if c.allowed_intents is None else ",".join(sorted(c.allowed_intents))
            if c.withdrawn_intents:
                intents += " " + _("(중단: %(list)s)") % {"list": ",".join(sorted(c.withdrawn_intents))}
            quota = f"{r.quota_used}/{c.daily_quota}" if c.daily_quota is not None else f"{r.sent_today}/∞"
            rate = "-" if r.failure_rate_24h is None else f"{r.failure_rate_24h * 100:.1f}%"
            phase = "-" if c.phase_is_default else str(c.phase_number)
            active = "" if r.account.is_active else " " + _("(비활성)")
            lines.append(
                [
                    r.account.name + active,
                    r.account.market_code,
                    c.configured_mode,
                    c.effective_mode,
                    phase,
                    intents,
                    quota,
                    rate,
                    (_("잠김: %(reason)s") % {"reason": c.lock_reason}) if c.locked else "",
                ]
            )
        headers = [
            _("계정"),
            _("마켓"),
            _("모드"),
            _("실제 모드"),
            _("단계"),
            _("허용 의도"),
            _("오늘/한도"),
            _("24시간 실패율"),
            _("잠금"),
        ]
        for line in table(headers, lines, right=(6, 7)):
            w(line)
