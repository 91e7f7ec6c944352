"""The automation policy: a deterministic, ordered list of gates (DESIGN §2).

``evaluate(state) -> (allowed, reason, details)`` as in the guide. Every gate is evaluated and
recorded in ``details["gates"]`` so the decision trace shows the whole picture; the first gate that
fails decides the reason. The agent's output is data: nothing in the customer's text reaches here
except through the agent's fields, and the gates below decide on their own.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypedDict

from django.utils import timezone

from policy.controls import AccountControls

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
    LOW_CONFIDENCE = "LOW_CONFIDENCE"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    ANSWER_CHECK = "ANSWER_CHECK"
    AGENT_NEEDS_HUMAN = "AGENT_NEEDS_HUMAN"


def _gate(name: str, passed: bool, detail: str, **extra: Any) -> dict:
    return {"gate": name, "passed": passed, "detail": detail, **extra}


def evaluate(state: PolicyState) -> tuple[bool, str, dict]:
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
    gates.append(_gate("switch_and_mode", True, f"{mode}: " + ("; ".join(controls.mode_reasons) or "unlocked"),
                       mode=mode, configured_mode=controls.configured_mode))

    # 2. account active and unlocked
    if not controls.is_active:
        failures.append((Reason.ACCOUNT_INACTIVE, f"Account {controls.account_name} is inactive"))
        gates.append(_gate("account", False, "inactive"))
    else:
        gates.append(_gate("account", True, "locked → shadow: " + controls.lock_reason if controls.locked else "active"))

    # 3. risk keywords on the customer's text and on the draft: always a person
    if risk_hits:
        terms = ", ".join(sorted({h.get("term", "?") for h in risk_hits}))
        failures.append((Reason.RISK_KEYWORD, f"Risk keyword(s) found: {terms}"))
        gates.append(_gate("risk_keywords", False, terms, hits=risk_hits))
    else:
        gates.append(_gate("risk_keywords", True, "none"))

    # 4. intent allowlist (phase ∩ account override)
    phase_label = controls.phase_name or "no phase"
    allowed = controls.allowed_intents
    if allowed is not None and intent not in allowed:
        failures.append((Reason.INTENT_NOT_ALLOWED, f"Intent '{intent}' not in allowed list ({phase_label})"))
        gates.append(_gate("intent_allowlist", False, f"{intent} ∉ {sorted(allowed)}", phase=controls.phase_number))
    else:
        gates.append(_gate("intent_allowlist", True, f"{intent} allowed ({phase_label})", phase=controls.phase_number))

    # 5. confidence threshold
    if confidence < controls.threshold:
        failures.append((Reason.LOW_CONFIDENCE, f"Confidence {confidence:.2f} below threshold {controls.threshold:.2f}"))
        gates.append(_gate("confidence", False, f"{confidence:.2f} < {controls.threshold:.2f}"))
    else:
        gates.append(_gate("confidence", True, f"{confidence:.2f} ≥ {controls.threshold:.2f}"))

    # 6. business hours and holidays (Asia/Seoul): outside hours the send is deferred, not dropped
    calendar = controls.glob.calendar
    deferred_until = None
    if calendar.is_open(now):
        gates.append(_gate("business_hours", True, "open" if calendar.enabled else "always"))
    else:
        opening = calendar.next_opening(now)
        deferred_until = opening.isoformat() if opening else None
        gates.append(_gate("business_hours", True, f"closed; deferred to {deferred_until}", deferred_until=deferred_until))

    # 7. daily quota (checked here, consumed atomically when the send is claimed)
    quota = controls.daily_quota
    used = int(state.get("quota_used") or 0)
    if quota is not None and used >= quota:
        failures.append((Reason.QUOTA_EXHAUSTED, f"Daily quota {quota} used up ({used})"))
        gates.append(_gate("daily_quota", False, f"{used}/{quota}"))
    else:
        gates.append(_gate("daily_quota", True, f"{used}/{quota if quota is not None else '∞'}"))

    # 8. answer checks: the agent produced a usable draft
    problems = []
    if state.get("needs_human"):
        problems.append(f"agent: {state.get('reason') or 'needs a person'}")
    stripped = draft.strip()
    if len(stripped) < MIN_ANSWER_CHARS:
        problems.append("empty draft")
    elif len(stripped) > MAX_ANSWER_CHARS:
        problems.append(f"draft longer than {MAX_ANSWER_CHARS} characters")
    if _PLACEHOLDER.search(draft):
        problems.append("unfilled placeholder")
    if state.get("grounded") is False:
        problems.append("no fact behind the draft")
    if problems:
        code = Reason.AGENT_NEEDS_HUMAN if state.get("needs_human") else Reason.ANSWER_CHECK
        failures.append((code, "Answer check failed: " + "; ".join(problems)))
        gates.append(_gate("answer_checks", False, "; ".join(problems)))
    else:
        gates.append(_gate("answer_checks", True, f"{len(stripped)} chars"))

    allowed_flag = not failures
    reason_code, reason_text = failures[0] if failures else (Reason.OK, "All gates passed")
    final_score = confidence if allowed_flag else 0.0
    details = {
        "final_score": final_score,
        "confidence": confidence,
        "threshold": controls.threshold,
        "reason_code": reason_code,
        "mode": mode,
        "phase": controls.phase_number,
        "deferred_until": deferred_until,
        "gates": gates,
        "failed_gates": [code for code, _text in failures],
        "evaluated_at": now.isoformat(),
    }
    return allowed_flag, reason_text, details
