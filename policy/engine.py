"""The automation policy: a deterministic, ordered list of gates (DESIGN §2).

``evaluate(state) -> (allowed, reason, details)`` as in the guide: a :class:`PolicyDecision`, which unpacks
as that triple and also carries the typed reason code and the deferral time. Every gate is evaluated and
recorded in ``details["gates"]`` so the decision trace shows the whole picture; the first gate that
fails decides the reason. The agent's output is data: nothing in the customer's text reaches here
except through the agent's fields, and the gates below decide on their own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypedDict

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inquiries.agent.labels import risk_term_label
from policy.controls import AccountControls
from policy.models import Mode

# Marketplace answer limits we know of (Coupang call-center: 2–1000 chars; the rest are looser).
MIN_ANSWER_CHARS = 2
MAX_ANSWER_CHARS = 1000
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class PolicyState(TypedDict, total=False):
    intent: str
    confidence: float
    draft: str
    risk_hits: list[dict]
    needs_human: bool
    reason: str  # the agent's reason code
    grounded: bool  # the draft states facts (absent: not known, e.g. a hand-written state in a test)
    controls: AccountControls
    now: dt.datetime
    quota_used: int


class Reason:
    OK = "OK"
    ACCOUNT_INACTIVE = "ACCOUNT_INACTIVE"
    RISK_KEYWORD = "RISK_KEYWORD"
    INTENT_NOT_ALLOWED = "INTENT_NOT_ALLOWED"
    INTENT_WITHDRAWN = "INTENT_WITHDRAWN"
    LOW_CONFIDENCE = "LOW_CONFIDENCE"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    ANSWER_CHECK = "ANSWER_CHECK"
    AGENT_NEEDS_HUMAN = "AGENT_NEEDS_HUMAN"


POLICY_REASON_LABELS = {
    Reason.OK: gettext_lazy("모든 게이트 통과"),
    Reason.ACCOUNT_INACTIVE: gettext_lazy("계정 비활성"),
    Reason.RISK_KEYWORD: gettext_lazy("위험 키워드"),
    Reason.INTENT_NOT_ALLOWED: gettext_lazy("이 단계에서 허용되지 않은 의도"),
    Reason.INTENT_WITHDRAWN: gettext_lazy("불만 재문의로 자동화가 중단된 의도"),
    Reason.LOW_CONFIDENCE: gettext_lazy("신뢰도가 임계값 미만"),
    Reason.QUOTA_EXHAUSTED: gettext_lazy("일일 한도 소진"),
    Reason.ANSWER_CHECK: gettext_lazy("답변 검사 실패"),
    Reason.AGENT_NEEDS_HUMAN: gettext_lazy("AI가 사람 확인 요청"),
}


def reason_label(code: str) -> str:
    """A policy reason code as a person reads it (the code stays in the database)."""
    return str(POLICY_REASON_LABELS.get(code, code))


def mode_label(mode: str) -> str:
    """The mode as a person reads it (the code stays ``SHADOW``/``TEST``/``LIVE`` in the database)."""
    return str(Mode(mode).label) if mode in Mode.values else mode


@dataclass(frozen=True)
class PolicyDecision:
    """What the policy decided: the guide's ``(allowed, reason, details)`` (``details`` is the JSON the
    decision trace stores), plus the reason code and, outside business hours, when the send may go.
    It unpacks as the guide's triple: ``allowed, reason, details = evaluate(state)``."""

    allowed: bool
    reason: str
    details: dict
    code: str  # a Reason value: the first gate that failed, or OK
    deferred_until: dt.datetime | None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.allowed, self.reason, self.details))


def _gate(name: str, passed: bool, detail: str, **extra: Any) -> dict:
    return {"gate": name, "passed": passed, "detail": detail, **extra}


def evaluate(state: PolicyState) -> PolicyDecision:
    controls: AccountControls = state["controls"]
    now = state.get("now") or timezone.now()
    intent = state.get("intent") or ""
    try:
        confidence = float(state.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    confidence = min(max(confidence, 0.0), 1.0)
    draft = state.get("draft") or ""
    risk_hits = state.get("risk_hits") or []
    gates: list[dict] = []
    failures: list[tuple[str, str]] = []

    # 1. partial-auto switch and mode: never blocks a decision (shadow = candidate), records the mode.
    mode = controls.effective_mode
    gates.append(
        _gate(
            "switch_and_mode",
            True,
            f"{mode_label(mode)}: " + ("; ".join(controls.mode_reasons) or _("해금됨")),
            mode=mode,
            configured_mode=controls.configured_mode,
        )
    )

    # 2. account active and unlocked
    if not controls.is_active:
        failures.append(
            (
                Reason.ACCOUNT_INACTIVE,
                _("계정 %(account)s은(는) 비활성 상태입니다") % {"account": controls.account_name},
            )
        )
        gates.append(_gate("account", False, _("비활성")))
    else:
        gates.append(
            _gate(
                "account",
                True,
                _("잠김 → 섀도: %(reason)s") % {"reason": controls.lock_reason} if controls.locked else _("활성"),
            )
        )

    # 3. risk keywords on the customer's text and on the draft: always a person
    if risk_hits:
        terms = ", ".join(sorted({risk_term_label(h.get("term", "?")) for h in risk_hits}))
        failures.append((Reason.RISK_KEYWORD, _("위험 키워드 발견: %(terms)s") % {"terms": terms}))
        gates.append(_gate("risk_keywords", False, terms, hits=risk_hits))
    else:
        gates.append(_gate("risk_keywords", True, _("없음")))

    # 4. intent allowlist (phase ∩ account override)
    phase_label = controls.phase_name or _("단계 없음")
    allowed = controls.allowed_intents
    if intent and intent in controls.withdrawn_intents:
        # the complaint follow-up rule took it out of automation for this account until a person restores it
        failures.append(
            (
                Reason.INTENT_WITHDRAWN,
                _("의도 '%(intent)s'은(는) 불만 재문의로 이 계정의 자동화에서 빠졌습니다") % {"intent": intent},
            )
        )
        gates.append(
            _gate(
                "intent_allowlist",
                False,
                _("%(intent)s 자동화 중단됨") % {"intent": intent},
                phase=controls.phase_number,
            )
        )
    elif allowed is not None and intent not in allowed:
        failures.append(
            (
                Reason.INTENT_NOT_ALLOWED,
                _("의도 '%(intent)s'은(는) 허용 목록에 없습니다 (%(phase)s)")
                % {"intent": intent, "phase": phase_label},
            )
        )
        gates.append(
            _gate(
                "intent_allowlist",
                False,
                _("%(intent)s ∉ 허용: %(allowed)s")
                % {"intent": intent, "allowed": ", ".join(sorted(allowed)) or _("없음")},
                phase=controls.phase_number,
            )
        )
    else:
        gates.append(
            _gate(
                "intent_allowlist",
                True,
                _("%(intent)s 허용 (%(phase)s)") % {"intent": intent, "phase": phase_label},
                phase=controls.phase_number,
            )
        )

    # 5. confidence threshold
    if confidence < controls.threshold:
        failures.append(
            (
                Reason.LOW_CONFIDENCE,
                _("신뢰도 %(confidence).2f가 기준값 %(threshold).2f보다 낮습니다")
                % {"confidence": confidence, "threshold": controls.threshold},
            )
        )
        gates.append(_gate("confidence", False, f"{confidence:.2f} < {controls.threshold:.2f}"))
    else:
        gates.append(_gate("confidence", True, f"{confidence:.2f} ≥ {controls.threshold:.2f}"))

    # 6. business hours and holidays (Asia/Seoul): outside hours the send is deferred, not dropped
    calendar = controls.glob.calendar
    opening: dt.datetime | None = None
    if calendar.is_open(now):
        gates.append(_gate("business_hours", True, _("영업 중") if calendar.enabled else _("항상")))
    else:
        opening = calendar.next_opening(now)
        opens = timezone.localtime(opening).strftime("%Y-%m-%d %H:%M") if opening else "-"
        gates.append(
            _gate(
                "business_hours",
                True,
                _("영업시간 외: %(opens)s(KST)로 미룸") % {"opens": opens},
                deferred_until=opening.isoformat() if opening else None,
            )
        )

    # 7. daily quota (checked here, consumed atomically when the send is claimed)
    quota = controls.daily_quota
    used = int(state.get("quota_used") or 0)
    if quota is not None and used >= quota:
        failures.append(
            (Reason.QUOTA_EXHAUSTED, _("일일 한도 %(quota)d건 소진 (%(used)d건 사용)") % {"quota": quota, "used": used})
        )
        gates.append(_gate("daily_quota", False, f"{used}/{quota}"))
    else:
        gates.append(_gate("daily_quota", True, f"{used}/{quota if quota is not None else '∞'}"))

    # 8. answer checks: the agent produced a usable draft
    problems = []
    if state.get("needs_human"):
        problems.append(_("에이전트: %(reason)s") % {"reason": state.get("reason") or _("사람 확인 필요")})
    stripped = draft.strip()
    if len(stripped) < MIN_ANSWER_CHARS:
        problems.append(_("빈 초안"))
    elif len(stripped) > MAX_ANSWER_CHARS:
        problems.append(_("초안이 %(max)d자를 넘습니다") % {"max": MAX_ANSWER_CHARS})
    if _PLACEHOLDER.search(draft):
        problems.append(_("채우지 않은 자리표시자"))
    if state.get("grounded") is False:
        problems.append(_("초안의 근거 사실 없음"))
    if problems:
        code = Reason.AGENT_NEEDS_HUMAN if state.get("needs_human") else Reason.ANSWER_CHECK
        failures.append((code, _("답변 점검 실패: %(problems)s") % {"problems": "; ".join(problems)}))
        gates.append(_gate("answer_checks", False, "; ".join(problems)))
    else:
        gates.append(_gate("answer_checks", True, _("%(count)d자") % {"count": len(stripped)}))

    allowed_flag = not failures
    reason_code, reason_text = failures[0] if failures else (Reason.OK, _("모든 게이트 통과"))
    final_score = confidence if allowed_flag else 0.0
    details = {
        "final_score": final_score,
        "confidence": confidence,
        "threshold": controls.threshold,
        "reason_code": reason_code,
        "mode": mode,
        "phase": controls.phase_number,
        "deferred_until": opening.isoformat() if opening else None,
        "gates": gates,
        "failed_gates": [code for code, _text in failures],
        "evaluated_at": now.isoformat(),
    }
    return PolicyDecision(allowed_flag, reason_text, details, reason_code, opening)
