"""Step 2, the gates re-checked after the claim and before the call: a closed gate gives the claim back."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from inquiries.models import Inquiry
from inquiries.transitions import Step
from partialauto.cli import local_time
from policy.controls import AccountControls, GlobalControls
from policy.models import Mode
from policy.sending.common import ST, TEST_MODE_ERROR, Claim, Out, Result, S, SendReport, _finalize, log


def _release_blocked(
    claim_: Claim, inquiry: Inquiry, *, reason: str, next_attempt_at=None, to_status: str = "", decision_mode: str = ""
) -> None:
    """Undo a claim that never called the marketplace (a gate closed after the claim)."""
    fields = dict(
        send_status=S.NOT_SENT if inquiry.send_attempts <= 1 else S.SEND_FAILED,
        claim_token=None,
        lease_expires_at=None,
        send_attempts=F("send_attempts") - 1,
        next_attempt_at=next_attempt_at,
    )
    if to_status:
        fields["status"] = to_status
    if decision_mode:
        fields["decision_mode"] = decision_mode
    _finalize(
        claim_,
        Step.RELEASE,
        fields=fields,
        outcome=Out.BLOCKED,
        message=reason,
        account_id=inquiry.account_id,
        release_quota=True,
    )
    log.warning("Inquiry %s: send blocked after claim: %s", inquiry.pk, reason)


def stale_order_facts(rows: list[Inquiry]) -> dict[int, list[str]]:
    """Rows whose answer states an order line that changed since the draft (cancelled, delivered, a new
    tracking number…): id → the lines that changed. One query for all the rows."""
    wanted: dict[int, dict[str, str]] = {}
    for row in rows:
        if row.order_fingerprint:
            wanted[row.pk] = dict(part.split(":", 1) for part in row.order_fingerprint.split(",") if ":" in part)
    if not wanted:
        return {}
    from markets.models import MarketOrder

    accounts = {row.account_id for row in rows if row.pk in wanted}
    lines = {line for fps in wanted.values() for line in fps}
    now = {
        (account_id, line): fp
        for account_id, line, fp in MarketOrder.objects.filter(account_id__in=accounts, line_id__in=lines).values_list(
            "account_id", "line_id", "fingerprint"
        )
    }
    by_pk = {row.pk: row for row in rows}
    stale = {}
    for pk, fps in wanted.items():
        changed = [line for line, fp in fps.items() if now.get((by_pk[pk].account_id, line)) != fp]
        if changed:
            stale[pk] = changed
    return stale


def _gate(
    claim_: Claim,
    inquiry: Inquiry,
    glob: GlobalControls,
    controls: AccountControls,
    stale_lines: list[str] | None = None,
) -> SendReport | str:
    """Step 2, the gates re-checked on fresh settings. Returns the answer text when the row may go to
    the marketplace now; otherwise the claim is already given back (or finished in test mode) and the
    report says how. ``stale_lines``: order lines the answer states that changed since the draft."""
    inquiry_id = inquiry.pk
    mode = controls.send_mode(inquiry.status)
    if not inquiry.account.is_active:
        _release_blocked(claim_, inquiry, reason="account inactive", to_status=ST.HUMAN_REVIEW)
        return SendReport(inquiry_id, Result.BLOCKED, "account inactive")
    if inquiry.status == ST.AUTO_SEND and mode == Mode.SHADOW:
        # The automation was switched off while this send waited: it is a candidate again.
        _release_blocked(
            claim_, inquiry, reason="; ".join(controls.mode_reasons) or "shadow mode", decision_mode=Mode.SHADOW
        )
        return SendReport(inquiry_id, Result.BLOCKED, "shadow mode")
    if inquiry.status == ST.AUTO_SEND and inquiry.intent in controls.withdrawn_intents:
        # withdrawn from automation while this answer waited (complaint follow-ups): a person answers
        _release_blocked(claim_, inquiry, reason="intent withdrawn from automation", to_status=ST.HUMAN_REVIEW)
        return SendReport(inquiry_id, Result.BLOCKED, "intent withdrawn")
    if inquiry.status == ST.AUTO_SEND and mode == Mode.LIVE and not glob.calendar.is_open(timezone.now()):
        opening = glob.calendar.next_opening(timezone.now())
        _release_blocked(
            claim_,
            inquiry,
            reason=gettext("영업시간 외: %(at)s로 미룸") % {"at": local_time(opening, "%Y-%m-%d %H:%M")},
            next_attempt_at=opening,
        )
        return SendReport(inquiry_id, Result.DEFERRED, str(opening))
    text = (inquiry.final_answer or inquiry.draft_answer).strip()
    if not text:
        _release_blocked(claim_, inquiry, reason="no answer text", to_status=ST.HUMAN_REVIEW)
        return SendReport(inquiry_id, Result.BLOCKED, "no answer text")
    if stale_lines:
        # Never send a stale order status: an automatic answer is drafted again from the order as it is
        # now; a person's approved answer goes back to them.
        reason = f"order changed since the draft ({', '.join(stale_lines)})"
        redraft = inquiry.status == ST.AUTO_SEND
        _release_blocked(
            claim_,
            inquiry,
            reason=reason + ("; drafting again" if redraft else "; a person checks"),
            to_status=ST.NEW if redraft else ST.HUMAN_REVIEW,
        )
        return SendReport(inquiry_id, Result.BLOCKED, reason)
    if mode == Mode.TEST and inquiry.status == ST.APPROVED:
        return _hold_approved(claim_, inquiry, controls)
    if mode == Mode.TEST:
        return _test_mode(claim_, inquiry, controls)
    return text


def _lease_lost(claim_: Claim) -> SendReport:
    log.error("Inquiry %s: lease lost before the marketplace call; not sending", claim_.inquiry_id)
    return SendReport(claim_.inquiry_id, Result.FENCED, "lease lost before the call")


def _hold_approved(claim_: Claim, inquiry: Inquiry, controls: AccountControls) -> SendReport:
    """Test mode came on after the claim of a person's approved answer: the claim is given back and the
    answer waits (the claim skips it while test mode holds, see ``due_queryset``) instead of being used up
    as a test send that would put it back in the review queue."""
    reasons = "; ".join(controls.send_mode_reasons(inquiry.status)) or "test mode"
    _release_blocked(claim_, inquiry, reason=f"approved answer held until test mode is off ({reasons})")
    return SendReport(inquiry.pk, Result.HELD, reasons)


def _test_mode(claim_: Claim, inquiry: Inquiry, controls: AccountControls) -> SendReport:
    reasons = "; ".join(controls.send_mode_reasons(inquiry.status)) or "test mode"
    log.warning(
        "[TEST_MODE] Skipping real API send for inquiry %s (account %s not in allowed list: %s)",
        inquiry.pk,
        inquiry.account.name,
        reasons,
    )
    ok = _finalize(
        claim_,
        Step.TEST_SEND,
        fields=dict(
            send_status=S.SEND_FAILED,
            is_test_mode=True,
            last_send_error=TEST_MODE_ERROR,
            lease_expires_at=None,
            next_attempt_at=None,
        ),
        outcome=Out.TEST_MODE,
        message=f"{TEST_MODE_ERROR} ({reasons})",
        account_id=inquiry.account_id,
        release_quota=True,
    )
    if ok:
        log.info(
            "Successfully auto-sent inquiry %s [TEST_MODE: marketplace not called, recorded as SEND_FAILED]", inquiry.pk
        )
    return SendReport(inquiry.pk, Result.TEST_MODE if ok else Result.FENCED)
