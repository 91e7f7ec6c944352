"""What a configuration change would start doing for real (test mode off, the switch on, a lower
threshold, a higher quota, more intents, a higher phase), said to the person before they confirm it."""

from __future__ import annotations

import copy

from django.utils.translation import gettext

from policy.models import AccountRollout, AutomationSettings, Mode, RolloutPhase


def config_risks(*, obj, before: dict, after: dict) -> list[str]:
    """What a configuration change would start doing for real, said for the person confirming it: global
    test mode off, the partial-auto switch on, a lower threshold, a higher quota, intents added, a higher
    phase. Empty when the change only makes automation stricter. ``before``/``after`` hold the changed
    fields as plain values (related objects by their names)."""
    if isinstance(obj, AutomationSettings):
        return _settings_risks(obj, before, after)
    if isinstance(obj, RolloutPhase) and obj.pk is not None:
        return _phase_risks(obj, before, after)
    if isinstance(obj, AccountRollout):
        return _rollout_risks(obj, before, after)
    return []


def settings_risks(**after: object) -> list[str]:
    """:func:`config_risks` of changing the global settings' fields to ``after`` (None: unchanged), read
    against the stored settings: what the admin, the command and an incident's lift show before it."""
    conf = AutomationSettings.get_solo()
    changed = {key: value for key, value in after.items() if value is not None}
    return config_risks(obj=conf, before={key: getattr(conf, key) for key in changed}, after=changed)


def _turned(before: dict, after: dict, key: str, old: object, new: object) -> bool:
    return key in after and before.get(key) == old and after.get(key) == new


def _live_accounts(conf: AutomationSettings) -> set[str]:
    from policy.controls import effective_mode, load_global

    glob = load_global(conf)
    return {
        rollout.account.name
        for rollout in AccountRollout.objects.select_related("account").filter(account__is_active=True)
        if effective_mode(glob=glob, account=rollout.account, rollout=rollout)[0] == Mode.LIVE
    }


def _settings_risks(conf: AutomationSettings, before: dict, after: dict) -> list[str]:
    risks = []
    if _turned(before, after, "test_mode", True, False):
        risks.append(gettext("전역 테스트 모드를 끕니다: 테스트 모드로 막혀 있던 실제 마켓 전송이 시작됩니다."))
    if _turned(before, after, "partial_auto_enabled", False, True):
        risks.append(
            gettext("부분 자동화 스위치를 켭니다: 섀도 모드로 묶여 있던 계정이 설정된 모드대로 자동 답변합니다.")
        )
    if risks:
        now, then = copy.copy(conf), copy.copy(conf)
        for key, value in before.items():
            setattr(now, key, value)
        for key, value in after.items():
            setattr(then, key, value)
        starting = sorted(_live_accounts(then) - _live_accounts(now))
        risks.append(
            gettext("저장하면 LIVE 계정 %(n)d개가 실제 전송을 시작합니다%(names)s.")
            % {"n": len(starting), "names": f": {', '.join(starting)}" if starting else ""}
        )
    if _turned(before, after, "test_mode", True, False):
        from policy.selectors import approved_answers_held

        if held := approved_answers_held():
            risks.append(
                gettext("테스트 모드가 붙잡고 있던 승인 답변 %(n)d건도 실제 마켓으로 전송됩니다.") % {"n": held}
            )
    old, new = before.get("auto_send_threshold"), after.get("auto_send_threshold")
    if old is not None and new is not None and new < old:
        risks.append(
            gettext(
                "자동 전송 신뢰도 임계값을 %(old).2f에서 %(new).2f(으)로 낮춥니다: 신뢰도가 더 낮은 답변도 "
                "자동 전송됩니다."
            )
            % {"old": old, "new": new}
        )
    return risks


def _quota_text(value: int | None) -> str:
    return gettext("한도 없음") if value is None else str(value)


def _raised(old: int | None, new: int | None) -> bool:
    return old is not None and (new is None or new > old)


def _phase_risks(phase: RolloutPhase, before: dict, after: dict) -> list[str]:
    risks = []
    if "daily_quota" in after and _raised(before.get("daily_quota"), after.get("daily_quota")):
        risks.append(
            gettext("단계 '%(phase)s'의 일일 전송 한도를 %(old)s에서 %(new)s(으)로 올립니다.")
            % {"phase": phase.name, "old": _quota_text(before["daily_quota"]), "new": _quota_text(after["daily_quota"])}
        )
    if _turned(before, after, "all_intents", False, True):
        risks.append(gettext("단계 '%(phase)s'에서 모든 의도를 자동 전송합니다.") % {"phase": phase.name})
    added = sorted(set(after.get("allowed_intents") or []) - set(before.get("allowed_intents") or []))
    if "allowed_intents" in after and added:
        risks.append(
            gettext("단계 '%(phase)s'에 자동 전송 의도를 추가합니다: %(intents)s.")
            % {"phase": phase.name, "intents": ", ".join(added)}
        )
    if risks:
        accounts = AccountRollout.objects.filter(phase=phase).exclude(mode=Mode.SHADOW).count()
        risks.append(gettext("이 단계의 테스트·LIVE 계정 %(n)d개에 바로 적용됩니다.") % {"n": accounts})
    return risks


def _rollout_risks(rollout: AccountRollout, before: dict, after: dict) -> list[str]:
    risks = []
    numbers: dict[str | None, int] = dict(RolloutPhase.objects.values_list("name", "number"))
    old_phase, new_phase = before.get("phase"), after.get("phase")
    if "phase" in after and new_phase is not None and numbers.get(new_phase, 0) > numbers.get(old_phase, 0):
        risks.append(
            gettext("단계를 %(old)s에서 %(new)s(으)로 올립니다: 더 많은 의도와 더 큰 한도로 자동 전송합니다.")
            % {"old": old_phase or gettext("기본 단계"), "new": new_phase}
        )
    phase_quota = rollout.phase.daily_quota if rollout.phase else None
    old_quota = before.get("quota_override", rollout.quota_override)
    new_quota = after.get("quota_override", old_quota)
    old_quota = phase_quota if old_quota is None else old_quota
    new_quota = phase_quota if new_quota is None else new_quota
    if "quota_override" in after and _raised(old_quota, new_quota):
        risks.append(
            gettext("이 계정의 일일 전송 한도를 %(old)s에서 %(new)s(으)로 올립니다.")
            % {"old": _quota_text(old_quota), "new": _quota_text(new_quota)}
        )
    threshold = AutomationSettings.get_solo().auto_send_threshold
    old_t = before.get("threshold_override")
    if old_t is None:
        old_t = threshold
    new_t = after.get("threshold_override")
    if new_t is None:
        new_t = threshold
    if "threshold_override" in after and new_t < old_t:
        risks.append(
            gettext("이 계정의 자동 전송 임계값을 %(old).2f에서 %(new).2f(으)로 낮춥니다.")
            % {"old": old_t, "new": new_t}
        )
    old_intents, new_intents = set(before.get("intents_override") or []), set(after.get("intents_override") or [])
    if "intents_override" in after and old_intents and (not new_intents or new_intents - old_intents):
        widened = ", ".join(sorted(new_intents - old_intents)) if new_intents else gettext("단계의 모든 허용 의도")
        risks.append(gettext("이 계정의 의도 제한을 넓힙니다: %(intents)s.") % {"intents": widened})
    return risks
