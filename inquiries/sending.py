"""The send path (DESIGN §2): at most one answer per inquiry, ever.

Phases, each its own committed transaction, with the marketplace call between them and outside
any transaction (research/reliability.md §2.2, §2.5):

1. **claim** — a conditional UPDATE ``NOT_SENT``/``SEND_FAILED`` → ``SENDING`` that increments
   ``send_attempts`` (NULL-safe), stamps a fresh claim token and a lease on the database clock, and
   takes the daily quota slot. Rowcount 1 means this worker owns the send; 0 means someone else does.
2. **re-check** the gates (switch, modes, test mode, emergency stop, business hours), because queued
   work can outlive a kill switch.
3. **call** the marketplace (or, in test mode, don't).
4. **finalize** — an UPDATE fenced by the claim token: a stale worker can never overwrite a newer
   outcome. Anything that may have reached the marketplace becomes ``SEND_UNKNOWN`` and is only ever
   settled by asking the marketplace (``reconcile``), never by sending again.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Case, F, Q, Subquery, TextField, UUIDField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat, Now
from django.utils import timezone
from django.utils.translation import gettext

from inquiries import events
from inquiries.calibration import similarity
from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from partialauto.cli import local_time
from partialauto.db import in_transaction, threads_allowed
from policy.controls import AccountControls, GlobalControls, human_sends_held_q, load_account_controls, load_global
from policy.models import AccountRollout, Mode
from policy.quota import quota_consume, quota_day, quota_release

if TYPE_CHECKING:
    from markets.models import MarketAccount

log = logging.getLogger("partialauto.send")

TEST_MODE_ERROR = "[TEST_MODE] Real API send blocked"
WORKER = "system:worker"
RECONCILER = "system:reconciler"


# After an unknown outcome, wait this long before concluding "not delivered" from a lookup that
# shows no answer: an in-flight request must no longer be able to land (read timeout + gateway).
def quiet_seconds() -> int:
    return settings.CS_RECONCILE_QUIET_SECONDS


MAX_RECONCILE_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 30 * 60

S = Inquiry.SendStatus
ST = Inquiry.Status
Out = SendAttempt.Outcome


@dataclass(frozen=True)
class Claim:
    inquiry_id: int
    token: uuid.UUID
    attempt_no: int
    quota_day: date | None  # the day whose quota slot this claim took, if any


@dataclass(frozen=True)
class SendReport:
    inquiry_id: int
    # SENT, SEND_FAILED, SEND_UNKNOWN, TEST_MODE, NOT_CLAIMED, DEFERRED, ESCALATED, ANSWERED_ELSEWHERE,
    # BLOCKED, HELD, FENCED
    result: str
    detail: str = ""


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential back-off with full jitter; never sooner than the marketplace asked."""
    base = getattr(settings, "CS_SEND_BACKOFF_BASE_SECONDS", BACKOFF_BASE_SECONDS)
    cap = getattr(settings, "CS_SEND_BACKOFF_CAP_SECONDS", BACKOFF_CAP_SECONDS)
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def next_attempt_number(current: int | None) -> int:
    """The attempt number a claim creates, for a row whose counter may be NULL in legacy data."""
    return (current or 0) + 1


def due_queryset():
    return (
        Inquiry.objects.filter(Inquiry.DUE_Q, is_test_mode=False)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now()))
        # A person's approved answer waits out test mode and emergency stops (it is never a test send).
        .exclude(human_sends_held_q())
    )


def approved_answer_held(inquiry_id: int) -> bool:
    """Whether test mode or an emergency stop holds this approved answer back right now (it waits)."""
    return Inquiry.objects.filter(human_sends_held_q(), pk=inquiry_id).exists()


# --------------------------------------------------------------------------------------------
# 1. claim


class _QuotaExhausted(Exception):
    pass


def claim(
    inquiry_id: int, *, glob: GlobalControls | None = None, actor_label: str = WORKER
) -> tuple[Claim | None, Inquiry | None, AccountControls | None]:
    """Take the send of one inquiry. Returns (None, …) when another worker owns it or it is not due."""
    glob = glob or load_global()
    token = uuid.uuid4()
    lease = timedelta(seconds=glob.lease_seconds)
    try:
        # durable: the claim must be committed before any HTTP call, never a savepoint of a caller's
        # transaction that could roll back after the marketplace said 200.
        with transaction.atomic(durable=True):
            updated = (
                due_queryset()
                .filter(pk=inquiry_id)
                .filter(Q(send_attempts__lt=glob.max_send_attempts) | Q(send_attempts__isnull=True))
                .update(
                    send_status=S.SENDING,
                    claim_token=token,
                    claimed_at=Now(),
                    lease_expires_at=Now() + Value(lease),
                    send_attempts=Coalesce(F("send_attempts"), 0) + 1,
                    updated_at=Now(),
                )
            )
            if updated != 1:
                return None, None, None
            inquiry = Inquiry.objects.select_related("account").get(pk=inquiry_id)
            controls = load_account_controls(inquiry.account, glob=glob)
            mode = controls.send_mode(inquiry.status)
            day = None
            if inquiry.status == ST.AUTO_SEND and mode == Mode.LIVE and controls.daily_quota is not None:
                day = quota_day()
                if not quota_consume(account_id=inquiry.account_id, limit=controls.daily_quota):
                    raise _QuotaExhausted
            SendAttempt.objects.create(
                inquiry=inquiry,
                account=inquiry.account,
                market_code=inquiry.market_code,
                attempt_no=inquiry.send_attempts,
                claim_token=token,
                is_test_mode=(mode == Mode.TEST),
            )
            events.record(
                inquiry,
                InquiryEvent.Type.CLAIMED,
                actor_label=actor_label,
                from_send_status="",
                to_send_status=S.SENDING,
                data={"attempt": inquiry.send_attempts, "claim": str(token), "mode": mode},
            )
    except _QuotaExhausted:
        _escalate_quota(inquiry_id, actor_label=actor_label)
        return None, None, None
    log.info("Inquiry %s locked as SENDING for atomic send", inquiry_id)
    return Claim(inquiry_id, token, inquiry.send_attempts, day), inquiry, controls


def _escalate_quota(inquiry_id: int, *, actor_label: str) -> None:
    with transaction.atomic():
        n = Inquiry.objects.filter(
            pk=inquiry_id, status=ST.AUTO_SEND, send_status__in=[S.NOT_SENT, S.SEND_FAILED]
        ).update(status=ST.HUMAN_REVIEW, decision_reason="Daily quota used up at send time", updated_at=Now())
        if n:
            events.record(
                inquiry_id,
                InquiryEvent.Type.ESCALATED,
                actor_label=actor_label,
                from_status=ST.AUTO_SEND,
                to_status=ST.HUMAN_REVIEW,
                message="daily quota used up",
            )
    log.warning("Inquiry %s: daily quota used up, handed to a person", inquiry_id)


# --------------------------------------------------------------------------------------------
# 4. finalize (fenced)


def _finish_attempt(claim_: Claim, outcome: str, *, http_status: int | None = None, error: str = "") -> None:
    SendAttempt.objects.filter(claim_token=claim_.token).update(
        outcome=outcome, http_status=http_status, error=error[:1000], finished_at=Now()
    )


def _fenced(claim_: Claim):
    return Inquiry.objects.filter(pk=claim_.inquiry_id, send_status=S.SENDING, claim_token=claim_.token)


def _account_failure(account_id, *, failed: bool) -> None:
    qs = AccountRollout.objects.filter(account_id=account_id)
    if failed:
        qs.update(consecutive_failures=F("consecutive_failures") + 1)
    else:
        qs.exclude(consecutive_failures=0).update(consecutive_failures=0)


def _finalize(
    claim_: Claim,
    *,
    fields: dict,
    outcome: str,
    event_type: str,
    to_send_status: str,
    to_status: str = "",
    message: str = "",
    http_status: int | None = None,
    failure: bool | None = None,
    account_id=None,
    release_quota: bool = False,
) -> bool:
    with transaction.atomic():
        n = _fenced(claim_).update(updated_at=Now(), **fields)
        if n != 1:
            log.error(
                "Inquiry %s: finalize fenced out (claim %s no longer holds the row); outcome %s not written",
                claim_.inquiry_id,
                claim_.token,
                outcome,
            )
            return False
        _finish_attempt(claim_, outcome, http_status=http_status, error=message)
        events.record(
            claim_.inquiry_id,
            event_type,
            actor_label=WORKER,
            from_send_status=S.SENDING,
            to_send_status=to_send_status,
            to_status=to_status,
            message=message,
            data={"attempt": claim_.attempt_no, "http_status": http_status},
        )
        if failure is not None and account_id is not None:
            _account_failure(account_id, failed=failure)
        if release_quota and claim_.quota_day is not None:
            quota_release(account_id=account_id, day=claim_.quota_day)
    return True


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
        fields=fields,
        outcome=Out.BLOCKED,
        event_type=InquiryEvent.Type.BLOCKED,
        to_send_status=fields["send_status"],
        to_status=to_status,
        message=reason,
        account_id=inquiry.account_id,
        release_quota=True,
    )
    log.warning("Inquiry %s: send blocked after claim: %s", inquiry.pk, reason)


# --------------------------------------------------------------------------------------------
# the whole path for one inquiry


def send_inquiry(inquiry_id: int, *, glob: GlobalControls | None = None, client_factory=None) -> SendReport:
    glob = glob or load_global()
    claim_, inquiry, controls = claim(inquiry_id, glob=glob)
    if claim_ is None:
        return SendReport(inquiry_id, "NOT_CLAIMED")
    assert inquiry is not None and controls is not None

    # 2. re-check the gates after the claim, on fresh settings: queued work outlives kill switches.
    glob = load_global()
    controls = load_account_controls(inquiry.account, glob=glob)
    return _send_claimed(claim_, inquiry, glob, controls, client_factory)


def _send_claimed(
    claim_: Claim, inquiry: Inquiry, glob: GlobalControls, controls: AccountControls, client_factory
) -> SendReport:
    """Steps 2–4 for a claimed row; ``glob`` and ``controls`` must be fresh (read after the claim)."""
    gated = _gate(claim_, inquiry, glob, controls, stale_order_facts([inquiry]).get(inquiry.pk))
    if isinstance(gated, SendReport):
        return gated
    # Renew the lease right before the call, and only while it is still ours and unexpired: a worker
    # that stalled past its lease (the reconciler may already be asking the marketplace) must not send.
    renewed = (
        _fenced(claim_)
        .filter(lease_expires_at__gt=Now())
        .update(lease_expires_at=Now() + Value(timedelta(seconds=glob.lease_seconds)))
    )
    if renewed != 1:
        return _lease_lost(claim_)
    return _live_send(claim_, inquiry, gated, glob, client_factory)


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
        return SendReport(inquiry_id, "BLOCKED", "account inactive")
    if inquiry.status == ST.AUTO_SEND and mode == Mode.SHADOW:
        # The automation was switched off while this send waited: it is a candidate again.
        _release_blocked(
            claim_, inquiry, reason="; ".join(controls.mode_reasons) or "shadow mode", decision_mode=Mode.SHADOW
        )
        return SendReport(inquiry_id, "BLOCKED", "shadow mode")
    if inquiry.status == ST.AUTO_SEND and mode == Mode.LIVE and not glob.calendar.is_open(timezone.now()):
        opening = glob.calendar.next_opening(timezone.now())
        _release_blocked(
            claim_,
            inquiry,
            reason=gettext("영업시간 외: %(at)s로 미룸") % {"at": local_time(opening, "%Y-%m-%d %H:%M")},
            next_attempt_at=opening,
        )
        return SendReport(inquiry_id, "DEFERRED", str(opening))
    text = (inquiry.final_answer or inquiry.draft_answer).strip()
    if not text:
        _release_blocked(claim_, inquiry, reason="no answer text", to_status=ST.HUMAN_REVIEW)
        return SendReport(inquiry_id, "BLOCKED", "no answer text")
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
        return SendReport(inquiry_id, "BLOCKED", reason)
    if mode == Mode.TEST and inquiry.status == ST.APPROVED:
        return _hold_approved(claim_, inquiry, controls)
    if mode == Mode.TEST:
        return _test_mode(claim_, inquiry, controls)
    return text


def _lease_lost(claim_: Claim) -> SendReport:
    log.error("Inquiry %s: lease lost before the marketplace call; not sending", claim_.inquiry_id)
    return SendReport(claim_.inquiry_id, "FENCED", "lease lost before the call")


def _hold_approved(claim_: Claim, inquiry: Inquiry, controls: AccountControls) -> SendReport:
    """Test mode came on after the claim of a person's approved answer: the claim is given back and the
    answer waits (the claim skips it while test mode holds, see ``due_queryset``) instead of being used up
    as a test send that would put it back in the review queue."""
    reasons = "; ".join(controls.send_mode_reasons(inquiry.status)) or "test mode"
    _release_blocked(claim_, inquiry, reason=f"approved answer held until test mode is off ({reasons})")
    return SendReport(inquiry.pk, "HELD", reasons)


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
        fields=dict(
            send_status=S.SEND_FAILED,
            is_test_mode=True,
            last_send_error=TEST_MODE_ERROR,
            lease_expires_at=None,
            next_attempt_at=None,
        ),
        outcome=Out.TEST_MODE,
        event_type=InquiryEvent.Type.TEST_MODE,
        to_send_status=S.SEND_FAILED,
        message=f"{TEST_MODE_ERROR} ({reasons})",
        account_id=inquiry.account_id,
        release_quota=True,
    )
    if ok:
        log.info(
            "Successfully auto-sent inquiry %s [TEST_MODE: marketplace not called, recorded as SEND_FAILED]", inquiry.pk
        )
    return SendReport(inquiry.pk, "TEST_MODE" if ok else "FENCED")


@dataclass(frozen=True)
class _CallResult:
    outcome: str
    http_status: int | None
    error: str
    retry_after: float | None
    remote_ref: str


def _call(client_factory, inquiry: Inquiry, text: str) -> _CallResult:
    """Step 3, the marketplace call. Never raises: an unexpected error is an unknown outcome."""
    from markets.clients.base import SendOutcome
    from markets.connect import cached_client_for

    try:
        client = (client_factory or cached_client_for)(inquiry.account)
        result = client.post_answer(inquiry.kind, inquiry.external_id, text, inquiry.reply_context or {})
        return _CallResult(
            result.outcome, result.http_status, result.error or "", result.retry_after, result.remote_ref or ""
        )
    except Exception as exc:  # a bug or an unexpected library error: we cannot know what was sent
        log.exception("Inquiry %s: unexpected error during the marketplace call", inquiry.pk)
        return _CallResult(SendOutcome.UNKNOWN, None, f"{type(exc).__name__}: {exc}", None, "")


def _live_send(claim_: Claim, inquiry: Inquiry, text: str, glob: GlobalControls, client_factory) -> SendReport:
    # 3. the marketplace call: outside any transaction (we are in autocommit here).
    if in_transaction():
        raise RuntimeError("the marketplace call must not run inside a transaction (a rollback could undo the claim)")
    return _record_outcome(claim_, inquiry, text, glob, _call(client_factory, inquiry, text))


def _record_outcome(claim_: Claim, inquiry: Inquiry, text: str, glob: GlobalControls, call: _CallResult) -> SendReport:
    """Step 4 for one row: write what the call came to, fenced by the claim token."""
    from markets.clients.base import SendOutcome

    outcome, http_status, error = call.outcome, call.http_status, call.error
    retry_after, remote_ref = call.retry_after, call.remote_ref
    attempt = claim_.attempt_no
    account_id = inquiry.account_id
    if outcome == SendOutcome.DELIVERED:
        ok = _finalize(
            claim_,
            fields=dict(
                send_status=S.SENT,
                sent_at=Now(),
                first_answered_at=Now(),
                remote_ref=remote_ref[:64],
                final_answer=text,
                last_send_error="",
                lease_expires_at=None,
                next_attempt_at=None,
                is_test_mode=False,
            ),
            outcome=Out.DELIVERED,
            event_type=InquiryEvent.Type.SENT,
            to_send_status=S.SENT,
            http_status=http_status,
            failure=False,
            account_id=account_id,
        )
        if ok:
            log.info("Successfully auto-sent inquiry %s", inquiry.pk)
        return SendReport(inquiry.pk, "SENT" if ok else "FENCED")

    if outcome == SendOutcome.ALREADY_ANSWERED:
        # Never a failure: ask the marketplace whose answer it is.
        return _settle_already_answered(claim_, inquiry, text, http_status)

    if outcome == SendOutcome.UNKNOWN:
        # Neither a failure nor a success for the rollback rules until reconciliation says which.
        ok = _finalize(
            claim_,
            fields=dict(
                send_status=S.SEND_UNKNOWN,
                last_send_error=error[:2000],
                lease_expires_at=Now(),
                next_attempt_at=Now() + Value(timedelta(seconds=quiet_seconds())),
            ),
            outcome=Out.UNKNOWN,
            event_type=InquiryEvent.Type.SEND_UNKNOWN,
            to_send_status=S.SEND_UNKNOWN,
            message=error,
            http_status=http_status,
            account_id=account_id,
        )
        log.warning(
            "Inquiry %s: outcome unknown (%s); will reconcile with the marketplace before any resend", inquiry.pk, error
        )
        return SendReport(inquiry.pk, "SEND_UNKNOWN" if ok else "FENCED", error)

    # definitely not delivered
    rate_limited = outcome == SendOutcome.RATE_LIMITED
    permanent = outcome == SendOutcome.FAILED_PERMANENT
    exhausted = attempt >= glob.max_send_attempts and not rate_limited
    fields: dict = dict(send_status=S.SEND_FAILED, last_send_error=f"{outcome}: {error}"[:2000], lease_expires_at=None)
    if rate_limited:
        # Pacing is ours to fix, not the answer's: the attempt is given back.
        fields["send_attempts"] = F("send_attempts") - 1
    to_status = ""
    if permanent or exhausted:
        fields["status"] = ST.HUMAN_REVIEW
        fields["next_attempt_at"] = None
        to_status = ST.HUMAN_REVIEW
    else:
        fields["next_attempt_at"] = Now() + Value(timedelta(seconds=backoff_seconds(attempt, retry_after=retry_after)))
    ok = _finalize(
        claim_,
        fields=fields,
        outcome=outcome,
        event_type=InquiryEvent.Type.SEND_FAILED,
        to_send_status=S.SEND_FAILED,
        to_status=to_status,
        message=f"{outcome}: {error}",
        http_status=http_status,
        failure=None if rate_limited else True,
        account_id=account_id,
        release_quota=True,
    )
    if ok and to_status:
        events.record(
            inquiry.pk,
            InquiryEvent.Type.ESCALATED,
            actor_label=WORKER,
            to_status=ST.HUMAN_REVIEW,
            message="permanent failure" if permanent else f"{attempt} attempts failed",
        )
    log.warning("Inquiry %s: send failed (%s, attempt %s): %s", inquiry.pk, outcome, attempt, error)
    if not rate_limited:
        _after_failure()
    return SendReport(inquiry.pk, ("ESCALATED" if to_status else "SEND_FAILED") if ok else "FENCED", error)


def _after_failure() -> None:
    from policy.monitor import check_after_failure

    check_after_failure()


def _same_text(a: str | None, b: str | None) -> bool:
    norm = lambda s: " ".join((s or "").split())  # noqa: E731
    return bool(a) and norm(a) == norm(b)


def _settle_already_answered(claim_: Claim, inquiry: Inquiry, text: str, http_status: int | None) -> SendReport:
    from markets.connect import cached_client_for

    try:
        found = cached_client_for(inquiry.account).lookup(inquiry.kind, inquiry.external_id, inquiry.created_at)
    except Exception as exc:
        found = None
        log.warning("Inquiry %s: lookup after 'already answered' failed: %s", inquiry.pk, exc)
    if found is not None and found.answered and _same_text(found.answer_text, text):
        ok = _finalize(
            claim_,
            fields=dict(
                send_status=S.SENT,
                sent_at=Now(),
                first_answered_at=Now(),
                final_answer=text,
                lease_expires_at=None,
                next_attempt_at=None,
                last_send_error="",
            ),
            outcome=Out.ALREADY_ANSWERED,
            event_type=InquiryEvent.Type.RECONCILED,
            to_send_status=S.SENT,
            message="marketplace already has our answer",
            http_status=http_status,
            failure=False,
            account_id=inquiry.account_id,
        )
        return SendReport(inquiry.pk, "SENT" if ok else "FENCED", "already had our answer")
    # Someone else answered (or we cannot tell whose answer it is): nothing more to send.
    elsewhere = found.answer_text if found is not None and found.answered else ""
    ok = _finalize(
        claim_,
        fields=dict(
            send_status=S.NOT_SENT,
            status=ST.ANSWERED_ELSEWHERE,
            first_answered_at=Now(),
            claim_token=None,
            lease_expires_at=None,
            next_attempt_at=None,
            external_answer=elsewhere or "",
            draft_agreement=similarity(inquiry.draft_answer, elsewhere or ""),
            last_send_error="already answered on the marketplace",
        ),
        outcome=Out.ALREADY_ANSWERED,
        event_type=InquiryEvent.Type.ANSWERED_ELSEWHERE,
        to_send_status=S.NOT_SENT,
        to_status=ST.ANSWERED_ELSEWHERE,
        message="answered outside partialauto",
        http_status=http_status,
        account_id=inquiry.account_id,
        release_quota=True,
    )
    return SendReport(inquiry.pk, "ANSWERED_ELSEWHERE" if ok else "FENCED")


# --------------------------------------------------------------------------------------------
# sweeps


# Sweeps claim due rows in batches: one committed transaction claims up to CLAIM_BATCH rows (each with
# its own claim token, attempt and lease, exactly as claim() does for one). Then, for each group of
# CS_SEND_CONCURRENCY rows (one row at a time on SQLite): the gates on settings confirmed fresh, the
# leases renewed, the marketplace calls in parallel, and the outcomes written fenced row by row by each
# claim token (every delivered row of the group in one statement). A batch spreads over accounts (at
# most CLAIM_PER_ACCOUNT rows of one account), so one vendor's rate limit does not hold up a group.
CLAIM_BATCH = 32
CLAIM_PER_ACCOUNT = 1


def _claimable(glob: GlobalControls):
    return due_queryset().filter(Q(send_attempts__lt=glob.max_send_attempts) | Q(send_attempts__isnull=True))


def _lock_due_ids(glob: GlobalControls, *, limit: int, per_account: int) -> list[int]:
    """Lock up to ``limit`` due rows in the current transaction, skipping rows another sweep has locked.

    On PostgreSQL: at most ``per_account`` rows of each account, the accounts in random order. After a
    poll one account's new rows have consecutive ids; a sweep that took them in id order would wait for
    that vendor's rate limit on every row while the other accounts' rows sat there. Elsewhere (SQLite:
    one process, no row locks): the oldest due rows.
    """
    due = _claimable(glob).order_by("next_attempt_at", "id")
    if connection.vendor != "postgresql":
        return list(due.values_list("id", flat=True)[:limit])
    from markets.models import MarketAccount

    inner = (
        due.filter(account_id=RawSQL('"_claim_account"."id"', (), output_field=UUIDField()))
        .values("id")
        .select_for_update(skip_locked=True, of=("self",))[:per_account]
    )
    sql, params = inner.query.sql_with_params()
    accounts = connection.ops.quote_name(MarketAccount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "_claim_rows"."id" FROM (SELECT "id" FROM {accounts} ORDER BY random()) AS "_claim_account" '
            f'CROSS JOIN LATERAL ({sql}) AS "_claim_rows" LIMIT %s',
            [*params, limit],
        )
        return [row[0] for row in cursor.fetchall()]


_fingerprint_sql: str | None = None
_fingerprint_global_from = 0  # index of the first value that is not about the account (settings, history)


def _settings_fingerprints(account_ids) -> dict:
    """Per account, in one query: every stored value the send path's gates are computed from — the
    settings row (switch, test mode, emergency stop, threshold, hours, lease, attempts), the account
    and its rollout (active, mode, lock, phase, overrides), the phase quotas — plus the newest history
    id of each of those tables (every admin or service edit writes one, an edit of one business-hours
    row included). Equal fingerprints mean controls loaded after the first one still hold."""
    global _fingerprint_sql, _fingerprint_global_from
    if _fingerprint_sql is None:
        from markets.models import MarketAccount
        from policy.models import AutomationSettings, BusinessDayOverride, BusinessHoursRange, RolloutPhase

        qn = connection.ops.quote_name

        def cols(alias, model, names):
            return [f"{alias}.{_col(model, n)}" for n in names]

        def newest_history(model):
            hist = model.history.model._meta
            return f"(SELECT MAX({qn(hist.pk.column)}) FROM {qn(hist.db_table)})"

        phase_table = qn(RolloutPhase._meta.db_table)
        account_columns = (
            cols("a", MarketAccount, ["is_active", "updated_at"])
            + cols(
                "r",
                AccountRollout,
                ["mode", "locked_at", "lock_reason", "phase", "quota_override", "threshold_override", "updated_at"],
            )
            + cols("p", RolloutPhase, ["daily_quota", "all_intents"])
            + [f"(SELECT {qn('daily_quota')} FROM {phase_table} ORDER BY {qn('number')} LIMIT 1)"]
        )
        _fingerprint_global_from = len(account_columns)
        columns = (
            cols("a", MarketAccount, ["id"])
            + account_columns
            + cols(
                "s",
                AutomationSettings,
                [
                    "updated_at",
                    "partial_auto_enabled",
                    "test_mode",
                    "emergency_stopped_at",
                    "emergency_reason",
                    "auto_send_threshold",
                    "business_hours_enabled",
                    "observe_public_holidays",
                    "max_send_attempts",
                    "lease_seconds",
                ],
            )
            + [
                newest_history(m)
                for m in (
                    AutomationSettings,
                    BusinessHoursRange,
                    BusinessDayOverride,
                    RolloutPhase,
                    AccountRollout,
                    MarketAccount,
                )
            ]
        )
        _fingerprint_sql = (
            f"SELECT {', '.join(columns)} FROM {qn(MarketAccount._meta.db_table)} a "
            f"LEFT JOIN {qn(AccountRollout._meta.db_table)} r ON r.{qn('account_id')} = a.{qn('id')} "
            f"LEFT JOIN {phase_table} p ON p.{qn('id')} = r.{qn('phase_id')} "
            f"LEFT JOIN {qn(AutomationSettings._meta.db_table)} s ON s.{qn('id')} = 1 "
            f"WHERE a.{qn('id')} IN (%s)"
        )
    account_ids = list(account_ids)
    # The environment can only tighten the database settings, and tests change it at run time.
    env = (
        settings.CS_ENV_ENABLE_PARTIAL_AUTO,
        settings.CS_ENV_TEST_MODE,
        settings.CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS,
        settings.CS_ENV_AUTO_SEND_THRESHOLD,
    )
    from markets.models import MarketAccount

    pk = MarketAccount._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            _fingerprint_sql % ", ".join(["%s"] * len(account_ids)),
            [pk.get_db_prep_value(i, connection) for i in account_ids],
        )
        return {pk.to_python(row[0]): (tuple(row[1:]), env) for row in cursor.fetchall()}


class _SweepSettings:
    """The settings one sweep claims and sends under. Before each use (a batch claim, each send) one
    query reads the fingerprints of the accounts concerned (:func:`_settings_fingerprints`); the
    controls are loaded in full — exactly as the single-row path loads them — only when a fingerprint
    differs from the one read before they were last loaded. A kill switch, a lock, a mode, phase or
    hours change therefore applies to the very next claim and the very next send, as on the single-row
    path, and a sweep over a hundred accounts does not reload a hundred accounts' settings per batch."""

    def __init__(self) -> None:
        self.glob: GlobalControls | None = None
        self._glob_key: tuple | None = None
        self._controls: dict[object, tuple[tuple, AccountControls]] = {}

    @property
    def loaded_glob(self) -> GlobalControls:
        """The global controls, once a claim or :meth:`fresh` has loaded them."""
        if self.glob is None:
            raise RuntimeError("the sweep's global controls are not loaded yet")
        return self.glob

    def fresh(self, accounts: dict) -> dict[object, AccountControls]:
        """``accounts``: id → MarketAccount. Returns id → controls, valid as of now."""
        prints = _settings_fingerprints(accounts)  # read first: anything changed after it is seen next time
        result: dict[object, AccountControls] = {}
        for account_id, account in accounts.items():
            values, env = prints.get(account_id, (None, None))
            if values is None:
                raise DatabaseError(f"account {account_id} vanished during a send sweep")
            account.is_active = values[0]  # fresh, for the account-inactive gate
            glob_key = (values[_fingerprint_global_from:], env)  # the settings row, the history ids, the environment
            if glob_key != self._glob_key or self.glob is None:
                self.glob, self._glob_key = load_global(), glob_key
                self._controls.clear()
            cached = self._controls.get(account_id)
            if cached is None or cached[0] != values:
                cached = self._controls[account_id] = (values, load_account_controls(account, glob=self.glob))
            result[account_id] = cached[1]
        return result


# Columns a send never reads (deferred, so they are loaded only if some path does read them).
_NOT_FOR_SENDING = (
    "content",
    "title",
    "product_name",
    "decision_trace",
    "risk_hits",
    "external_answer",
    "decision_reason",
    "raw_payload",
)


def _claim_rows(
    glob: GlobalControls,
    rows: dict[int, Inquiry],
    tokens: dict[int, uuid.UUID],
    modes: dict[int, str],
    lease: timedelta,
    actor_label: str,
) -> dict[int, int]:
    """The claim itself: one conditional UPDATE (the due conditions again) giving each row its own
    token, ``SENDING``, ``send_attempts + 1`` and a lease on the database clock, plus a send-attempt
    record and a CLAIMED event for exactly the rows it updated. Returns id → attempt number."""
    due = _claimable(glob).filter(pk__in=list(tokens))
    if connection.vendor != "postgresql":
        due.update(
            send_status=S.SENDING,
            claim_token=Case(
                *[When(pk=pk, then=Value(token)) for pk, token in tokens.items()], output_field=UUIDField()
            ),
            claimed_at=Now(),
            lease_expires_at=Now() + Value(lease),
            send_attempts=Coalesce(F("send_attempts"), 0) + 1,
            updated_at=Now(),
        )
        attempts = dict(
            Inquiry.objects.filter(
                pk__in=list(tokens), send_status=S.SENDING, claim_token__in=list(tokens.values())
            ).values_list("pk", "send_attempts")
        )
        SendAttempt.objects.bulk_create(
            [
                SendAttempt(
                    inquiry_id=pk,
                    account_id=rows[pk].account_id,
                    market_code=rows[pk].market_code,
                    attempt_no=n,
                    claim_token=tokens[pk],
                    is_test_mode=(modes[pk] == Mode.TEST),
                )
                for pk, n in attempts.items()
            ]
        )
        InquiryEvent.objects.bulk_create(
            [
                events.build(
                    pk,
                    InquiryEvent.Type.CLAIMED,
                    actor_label=actor_label,
                    to_send_status=S.SENDING,
                    data={"attempt": n, "claim": str(tokens[pk]), "mode": modes[pk]},
                )
                for pk, n in attempts.items()
            ]
        )
        return attempts
    # PostgreSQL: one statement. The due conditions apply to the updated row itself (not to a
    # sub-select), so a row changed by anyone after this statement's snapshot is re-checked before it
    # is updated; the attempt and the event are written from what the UPDATE returned.
    where_sql, where_params = due.query.get_compiler(connection=connection).compile(due.query.where)
    ids = list(tokens)
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql() % {"due": where_sql},
            [
                ids,
                [tokens[pk] for pk in ids],
                [modes[pk] for pk in ids],
                S.SENDING,
                lease,  # type: ignore[list-item]  # django-stubs omit timedelta (an interval) from SQL parameter types
                *where_params,
                Mode.TEST,
                InquiryEvent.Type.CLAIMED,
                actor_label[:64],
                S.SENDING,
            ],
        )
        return dict(cursor.fetchall())


def _col(model, name: str) -> str:
    """A model field's quoted column, for the statements written by hand below."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _event_columns() -> str:
    """The event columns the hand-written statements fill (the rest keep their defaults)."""
    return ", ".join(
        _col(InquiryEvent, n)
        for n in (
            "inquiry",
            "type",
            "at",
            "actor_label",
            "from_status",
            "to_status",
            "from_send_status",
            "to_send_status",
            "message",
            "data",
        )
    )


@functools.cache
def _claim_sql() -> str:
    qn = connection.ops.quote_name
    t = qn(Inquiry._meta.db_table)

    def i(name):
        return f"{t}.{_col(Inquiry, name)}"

    attempt_cols = ", ".join(
        _col(SendAttempt, n)
        for n in (
            "inquiry",
            "account",
            "market_code",
            "attempt_no",
            "claim_token",
            "is_test_mode",
            "outcome",
            "error",
            "started_at",
        )
    )
    event_cols = _event_columns()
    pending = SendAttempt.Outcome.PENDING
    return (
        f"WITH v AS (SELECT UNNEST(%%s::bigint[]) AS id, UNNEST(%%s::uuid[]) AS token, UNNEST(%%s::text[]) AS mode), "
        f"claimed AS (UPDATE {t} SET {_col(Inquiry, 'send_status')} = %%s, {_col(Inquiry, 'claim_token')} = v.token, "
        f"{_col(Inquiry, 'claimed_at')} = NOW(), {_col(Inquiry, 'lease_expires_at')} = NOW() + %%s, "
        f"{_col(Inquiry, 'send_attempts')} = COALESCE({i('send_attempts')}, 0) + 1, "
        f"{_col(Inquiry, 'updated_at')} = NOW() "
        f"FROM v WHERE {i('id')} = v.id AND %(due)s "
        f"RETURNING {i('id')} AS id, {i('send_attempts')} AS attempt, {i('account')} AS account_id, "
        f"{i('market_code')} AS market_code, v.token, v.mode), "
        f"attempt AS (INSERT INTO {qn(SendAttempt._meta.db_table)} ({attempt_cols}) "
        f"SELECT id, account_id, market_code, attempt, token, mode = %%s, '{pending}', '', NOW() FROM claimed), "
        f"logged AS (INSERT INTO {qn(InquiryEvent._meta.db_table)} ({event_cols}) "
        f"SELECT id, %%s, NOW(), %%s, '', '', '', %%s, '', "
        f"jsonb_build_object('attempt', attempt, 'claim', token::text, 'mode', mode) FROM claimed ORDER BY id) "
        f"SELECT id, attempt FROM claimed"
    )


def claim_batch(
    current: _SweepSettings,
    *,
    limit: int = CLAIM_BATCH,
    per_account: int = CLAIM_PER_ACCOUNT,
    actor_label: str = WORKER,
) -> tuple[list[tuple[Claim, Inquiry]], list[int]]:
    """Claim up to ``limit`` due rows in one committed transaction. Returns the claims (with the claimed
    rows) and the ids handed to a person because the account's daily quota was used up.

    Each row gets what :func:`claim` gives one: ``SENDING``, its own claim token, ``send_attempts + 1``,
    a lease on the database clock, a quota slot when it needs one, a send-attempt record and a CLAIMED
    event, all committed before any marketplace call. The conditional UPDATE (the due conditions again)
    stays the guarantee; the row locks only keep concurrent sweeps from queueing behind each other."""
    claimed: list[tuple[Claim, Inquiry]] = []
    exhausted: list[int] = []
    if current.glob is None:
        current.glob = load_global()
    with transaction.atomic(durable=True):
        ids = _lock_due_ids(current.glob, limit=limit, per_account=per_account)
        if not ids:
            return [], []
        rows = Inquiry.objects.select_related("account").defer(*_NOT_FOR_SENDING).in_bulk(ids)
        shared: dict[uuid.UUID, MarketAccount] = {}
        for loaded in rows.values():  # one object per account: the fresh flags set on it hold for all its rows
            loaded.account = shared.setdefault(loaded.account_id, loaded.account)
        controls = current.fresh({row.account_id: row.account for row in rows.values()})
        glob = current.glob
        lease = timedelta(seconds=glob.lease_seconds)
        tokens: dict[int, uuid.UUID] = {}
        days: dict[int, date | None] = {}
        modes: dict[int, str] = {}
        for pk in ids:
            row = rows.get(pk)
            if row is None:
                continue
            mode = modes[pk] = controls[row.account_id].send_mode(row.status)
            day = None
            quota = controls[row.account_id].daily_quota
            if row.status == ST.AUTO_SEND and mode == Mode.LIVE and quota is not None:
                day = quota_day()
                if not quota_consume(account_id=row.account_id, limit=quota):
                    exhausted.append(pk)
                    continue
            tokens[pk], days[pk] = uuid.uuid4(), day
        if tokens:
            attempts = _claim_rows(glob, rows, tokens, modes, lease, actor_label)
            for pk, token in tokens.items():
                if pk not in attempts:  # not due any more (cannot happen while we hold the lock; never assume)
                    if (taken := days[pk]) is not None:
                        quota_release(account_id=rows[pk].account_id, day=taken)
                    continue
                row = rows[pk]
                row.send_status, row.claim_token, row.send_attempts = S.SENDING, token, attempts[pk]
                claimed.append((Claim(pk, token, attempts[pk], days[pk]), row))
    for pk in exhausted:
        _escalate_quota(pk, actor_label=actor_label)
    for c, _row in claimed:
        log.info("Inquiry %s locked as SENDING for atomic send", c.inquiry_id)
    return claimed, exhausted


def send_concurrency() -> int:
    """Marketplace calls a sweep keeps in flight (``CS_SEND_CONCURRENCY``); 1 where the calls may not
    move to threads of their own (the database rate limiter would query on their connections)."""
    if not threads_allowed():
        return 1
    return max(1, int(getattr(settings, "CS_SEND_CONCURRENCY", 32)))


def send_due(*, limit: int = 100, client_factory=None, batch_size: int = CLAIM_BATCH) -> list[SendReport]:
    """Send what is due now, through the same claim/lease path as the workers, in claimed batches."""
    reports: list[SendReport] = []
    current = _SweepSettings()
    width = send_concurrency()
    while len(reports) < limit:
        # No more rows than one group: every claimed row's call starts right after its claim (a lease
        # is never spent waiting behind other groups).
        claimed, exhausted = claim_batch(current, limit=min(batch_size, width, limit - len(reports)))
        reports += [SendReport(pk, "NOT_CLAIMED", "daily quota used up") for pk in exhausted]
        if not claimed:
            if not exhausted:
                break
            continue
        group: list[SendReport] = []
        try:
            if width == 1:
                claim_, inquiry = claimed[0]
                # 2. re-check the gates after the claim, on settings confirmed fresh right now
                controls = current.fresh({inquiry.account_id: inquiry.account})[inquiry.account_id]
                group.append(_send_claimed(claim_, inquiry, current.loaded_glob, controls, client_factory))
            else:
                _send_group(claimed, current, client_factory, group)
        except DatabaseError as exc:
            # The database went away mid-send: the rows keep their leases and the reconciler settles them.
            log.error(
                "Inquiries %s: database error during send (%s); left for reconciliation",
                [c.inquiry_id for c, _ in claimed],
                exc,
            )
            close_old_connections()
            connection.close()
            done = {r.inquiry_id for r in group}
            group += [SendReport(c.inquiry_id, "DB_ERROR", str(exc)) for c, _ in claimed if c.inquiry_id not in done]
        reports += group
    return reports


# --------------------------------------------------------------------------------------------
# a group of claimed rows sent together (PostgreSQL): one gate check, one lease renewal, the calls in
# parallel, one write for all the delivered ones. Every other outcome takes the single-row path.

_pool = None
_pool_key: tuple | None = None
_pool_lock = threading.Lock()


def _executor(width: int) -> ThreadPoolExecutor:
    """The process's call threads (made again after a fork: threads do not survive one)."""
    global _pool, _pool_key
    key = (os.getpid(), width)
    with _pool_lock:
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)  # the width changed: the old threads end once idle
            _pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="send-call")
            _pool_key = key
        return _pool


def close_call_threads() -> None:
    """Stop the call threads, each closing the database connections it opened (the database rate
    limiter's). For an orderly shutdown, and for tests that drop their database afterwards."""
    global _pool, _pool_key
    with _pool_lock:
        pool, (pid, width) = _pool, (_pool_key or (0, 0))
        _pool = _pool_key = None
    if pool is None or pid != os.getpid():
        return  # a pool inherited through a fork has no threads in this process
    from django.db import connections

    gate = threading.Barrier(width)

    def close_mine() -> None:
        connections.close_all()
        gate.wait(timeout=10)  # every thread takes exactly one of these

    for future in [pool.submit(close_mine) for _ in range(width)]:
        future.exception(timeout=30)
    pool.shutdown(wait=True)


def _call_in_thread(client_factory, inquiry: Inquiry, text: str) -> _CallResult:
    from django.db import connections

    try:
        return _call(client_factory, inquiry, text)
    finally:
        # The database rate limiter (no Redis) queries on this thread's own connection: keep it healthy.
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()


def _send_group(
    group: list[tuple[Claim, Inquiry]], current: _SweepSettings, client_factory, reports: list[SendReport]
) -> list[SendReport]:
    """Steps 2–4 for a claimed group; each row's report is appended to ``reports`` as soon as it is known."""
    # 2. the gates, on settings confirmed fresh right now (one fingerprint read for the group)
    controls = current.fresh({inquiry.account_id: inquiry.account for _claim, inquiry in group})
    stale = stale_order_facts([inquiry for _claim, inquiry in group])
    ready: list[tuple[Claim, Inquiry, str]] = []
    for claim_, inquiry in group:
        gated = _gate(claim_, inquiry, current.loaded_glob, controls[inquiry.account_id], stale.get(inquiry.pk))
        if isinstance(gated, SendReport):
            reports.append(gated)
        else:
            ready.append((claim_, inquiry, gated))
    if not ready:
        return reports
    # The leases, renewed in one statement right before the calls, only where still ours and unexpired.
    held = _renew_leases([c for c, _i, _t in ready], current.loaded_glob)
    for claim_, _inquiry, _text in ready:
        if claim_.inquiry_id not in held:
            reports.append(_lease_lost(claim_))
    ready = [row for row in ready if row[0].inquiry_id in held]
    if in_transaction():
        raise RuntimeError("the marketplace call must not run inside a transaction (a rollback could undo the claim)")
    # 3. the calls, in parallel; no database work happens on the call threads (but the rate limiter's)
    pool = _executor(send_concurrency())
    futures = [pool.submit(_call_in_thread, client_factory, inquiry, text) for _claim, inquiry, text in ready]
    calls = [future.result() for future in futures]
    # 4. the outcomes: every delivered one in one write, fenced row by row by its claim token
    from markets.clients.base import SendOutcome

    delivered = [(row, call) for row, call in zip(ready, calls, strict=True) if call.outcome == SendOutcome.DELIVERED]
    written = _finalize_delivered(delivered) if delivered else set()
    for (claim_, inquiry, text), call in zip(ready, calls, strict=True):
        if call.outcome != SendOutcome.DELIVERED:
            reports.append(_record_outcome(claim_, inquiry, text, current.loaded_glob, call))
        elif claim_.inquiry_id in written:
            log.info("Successfully auto-sent inquiry %s", inquiry.pk)
            reports.append(SendReport(inquiry.pk, "SENT"))
        else:
            log.error(
                "Inquiry %s: finalize fenced out (claim %s no longer holds the row); outcome %s not written",
                inquiry.pk,
                claim_.token,
                Out.DELIVERED,
            )
            reports.append(SendReport(inquiry.pk, "FENCED"))
    return reports


def _renew_leases(claims: list[Claim], glob: GlobalControls) -> set[int]:
    t = connection.ops.quote_name(Inquiry._meta.db_table)
    pk, token, status, lease = (
        _col(Inquiry, name) for name in ("id", "claim_token", "send_status", "lease_expires_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {t} SET {lease} = NOW() + %s "
            f"FROM (SELECT UNNEST(%s::bigint[]) AS id, UNNEST(%s::uuid[]) AS token) AS v "
            f"WHERE {t}.{pk} = v.id AND {t}.{token} = v.token AND {t}.{status} = %s AND {t}.{lease} > NOW() "
            f"RETURNING {t}.{pk}",
            [
                timedelta(seconds=glob.lease_seconds),  # type: ignore[list-item]  # django-stubs omit timedelta (an interval) from SQL parameter types
                [c.inquiry_id for c in claims],
                [c.token for c in claims],
                S.SENDING,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def _finalize_delivered(delivered: list) -> set[int]:
    """Write SENT for every delivered row of a group in one statement: the inquiry rows (each fenced by
    its own claim token), their send attempts, the accounts' failure streaks and the SENT events of
    exactly the rows written. Returns the ids written."""
    columns: dict[str, list] = {
        "id": [],
        "token": [],
        "ref": [],
        "answer": [],
        "http_status": [],
        "attempt": [],
        "account_id": [],
    }
    for (claim_, inquiry, text), call in delivered:
        for name, value in (
            ("id", claim_.inquiry_id),
            ("token", claim_.token),
            ("ref", call.remote_ref[:64]),
            ("answer", text),
            ("http_status", call.http_status),
            ("attempt", claim_.attempt_no),
            ("account_id", inquiry.account_id),
        ):
            columns[name].append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            _finalize_delivered_sql(),
            [
                *columns.values(),
                S.SENT,
                S.SENDING,
                Out.DELIVERED,
                InquiryEvent.Type.SENT,
                WORKER,
                S.SENDING,
                S.SENT,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


@functools.cache
def _finalize_delivered_sql() -> str:
    qn = connection.ops.quote_name
    t, a = qn(Inquiry._meta.db_table), qn(SendAttempt._meta.db_table)
    event_cols = _event_columns()
    return (
        "WITH v AS (SELECT UNNEST(%s::bigint[]) AS id, UNNEST(%s::uuid[]) AS token, UNNEST(%s::text[]) AS ref, "
        "UNNEST(%s::text[]) AS answer, UNNEST(%s::int[]) AS http_status, UNNEST(%s::int[]) AS attempt, "
        "UNNEST(%s::uuid[]) AS account_id), "
        f"done AS (UPDATE {t} SET {_col(Inquiry, 'send_status')} = %s, {_col(Inquiry, 'sent_at')} = NOW(), "
        f"{_col(Inquiry, 'first_answered_at')} = NOW(), "
        f"{_col(Inquiry, 'remote_ref')} = v.ref, {_col(Inquiry, 'final_answer')} = v.answer, "
        f"{_col(Inquiry, 'last_send_error')} = '', {_col(Inquiry, 'lease_expires_at')} = NULL, "
        f"{_col(Inquiry, 'next_attempt_at')} = NULL, {_col(Inquiry, 'is_test_mode')} = FALSE, "
        f"{_col(Inquiry, 'updated_at')} = NOW() FROM v "
        f"WHERE {t}.{_col(Inquiry, 'id')} = v.id AND {t}.{_col(Inquiry, 'claim_token')} = v.token "
        f"AND {t}.{_col(Inquiry, 'send_status')} = %s RETURNING {t}.{_col(Inquiry, 'id')} AS id), "
        f"written AS (SELECT v.* FROM v JOIN done ON done.id = v.id), "
        f"attempt AS (UPDATE {a} SET {_col(SendAttempt, 'outcome')} = %s, "
        f"{_col(SendAttempt, 'http_status')} = written.http_status, {_col(SendAttempt, 'error')} = '', "
        f"{_col(SendAttempt, 'finished_at')} = NOW() FROM written "
        f"WHERE {a}.{_col(SendAttempt, 'claim_token')} = written.token), "
        f"streak AS (UPDATE {qn(AccountRollout._meta.db_table)} SET {_col(AccountRollout, 'consecutive_failures')} = 0 "
        f"WHERE {_col(AccountRollout, 'account')} IN (SELECT account_id FROM written) "
        f"AND {_col(AccountRollout, 'consecutive_failures')} <> 0), "
        f"logged AS (INSERT INTO {qn(InquiryEvent._meta.db_table)} ({event_cols}) "
        f"SELECT id, %s, NOW(), %s, '', '', %s, %s, '', "
        f"jsonb_build_object('attempt', attempt, 'http_status', http_status) FROM written ORDER BY id) "
        f"SELECT id FROM written"
    )


def reconcile(*, stale_after: float | None = None, limit: int = 200, include_waiting: bool = False) -> list[SendReport]:
    """Settle SEND_UNKNOWN rows and SENDING rows whose lease is older than ``stale_after`` seconds
    (default: the lease length) by asking the marketplace. Never sends.

    ``include_waiting`` also asks about unknown rows whose next look-up is not due yet (an operator
    running the command by hand wants an answer now; the quiet period still protects the decision).
    """
    glob = load_global()
    stale = timedelta(seconds=glob.lease_seconds if stale_after is None else stale_after)
    unknown = Q(send_status=S.SEND_UNKNOWN)
    if not include_waiting:
        unknown &= Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now())
    candidates = (
        Inquiry.objects.filter(unknown | Q(send_status=S.SENDING, claimed_at__lte=Now() - Value(stale)))
        .order_by("id")
        .values_list("id", "claim_token")[:limit]
    )
    return [_reconcile_one(i, token, glob) for i, token in list(candidates)]


_SETTLED_NOTES: dict[str, str] = {
    Out.DELIVERED: "delivered",
    Out.FAILED_RETRYABLE: "not delivered",
    Out.ALREADY_ANSWERED: "answered outside partialauto",
}


def _settled_outcome(fields: dict) -> str | None:
    """The outcome of the unknown attempt that a reconciliation's change of the row confirms (None: still unknown)."""
    if fields.get("status") == ST.ANSWERED_ELSEWHERE:
        return Out.ALREADY_ANSWERED
    settled: dict[str, str] = {S.SENT: Out.DELIVERED, S.SEND_FAILED: Out.FAILED_RETRYABLE}
    return settled.get(fields.get("send_status", ""))


def _settle_attempt(inquiry_id: int, outcome: str) -> None:
    last = (
        SendAttempt.objects.filter(inquiry_id=inquiry_id, outcome=Out.UNKNOWN)
        .order_by("-started_at")
        .values_list("pk", flat=True)
        .first()
    )
    if last is not None:
        SendAttempt.objects.filter(pk=last).update(
            outcome=outcome,
            error=Concat(
                Value(f"{_SETTLED_NOTES[outcome]} (confirmed by reconciliation); was: "),
                F("error"),
                output_field=TextField(),
            ),
        )


def _last_attempt_start(inquiry_id: int):
    return SendAttempt.objects.filter(inquiry_id=inquiry_id).order_by("-started_at").values("started_at")[:1]


def _reconcile_one(inquiry_id: int, old_token, glob: GlobalControls) -> SendReport:
    from markets.connect import cached_client_for

    token = uuid.uuid4()
    # Take the row over with a new token: a worker that is merely slow (not dead) is fenced out.
    taken = Inquiry.objects.filter(
        pk=inquiry_id, claim_token=old_token, send_status__in=[S.SENDING, S.SEND_UNKNOWN]
    ).update(
        send_status=S.SEND_UNKNOWN, claim_token=token, reconcile_attempts=F("reconcile_attempts") + 1, updated_at=Now()
    )
    if not taken:
        return SendReport(inquiry_id, "NOT_CLAIMED")
    inquiry = Inquiry.objects.select_related("account").get(pk=inquiry_id)
    if old_token is not None:
        SendAttempt.objects.filter(claim_token=old_token, outcome=Out.PENDING).update(
            outcome=Out.UNKNOWN, finished_at=Now(), error="lease expired; reconciling"
        )
    text = inquiry.final_answer or inquiry.draft_answer
    fence = Inquiry.objects.filter(pk=inquiry_id, claim_token=token, send_status=S.SEND_UNKNOWN)
    try:
        found = cached_client_for(inquiry.account).lookup(inquiry.kind, inquiry.external_id, inquiry.created_at)
        lookup_error = getattr(found, "outcome_error", None)
    except Exception as exc:
        found, lookup_error = None, f"{type(exc).__name__}: {exc}"

    def finish(fields: dict, event_type: str, message: str, to_status: str = "") -> SendReport:
        with transaction.atomic():
            n = fence.update(updated_at=Now(), **fields)
            if n:
                events.record(
                    inquiry_id,
                    event_type,
                    actor_label=RECONCILER,
                    from_send_status=S.SEND_UNKNOWN,
                    to_send_status=fields.get("send_status", S.SEND_UNKNOWN),
                    to_status=to_status,
                    message=message,
                )
                if settled := _settled_outcome(fields):
                    # The attempt gets the outcome the marketplace confirms; the failure figures count it now.
                    _settle_attempt(inquiry_id, settled)
                    if settled != Out.ALREADY_ANSWERED:
                        _account_failure(inquiry.account_id, failed=settled == Out.FAILED_RETRYABLE)
        if n and _settled_outcome(fields) == Out.FAILED_RETRYABLE:
            _after_failure()
        log.info("Inquiry %s reconciled: %s", inquiry_id, message)
        return SendReport(inquiry_id, fields.get("send_status", S.SEND_UNKNOWN) if n else "FENCED", message)

    if found is None or lookup_error or not found.found:
        detail = lookup_error or (gettext("마켓에서 찾지 못함") if found is not None else gettext("조회 실패"))
        if inquiry.reconcile_attempts >= MAX_RECONCILE_ATTEMPTS:
            # A person must look at the marketplace: we will never send this one again by ourselves.
            return finish(
                dict(status=ST.HUMAN_REVIEW, next_attempt_at=None, last_send_error=f"reconcile gave up: {detail}"),
                InquiryEvent.Type.ESCALATED,
                gettext("전송 결과 확인을 포기함 (%(detail)s); 사람이 마켓에서 확인해야 합니다") % {"detail": detail},
                to_status=ST.HUMAN_REVIEW,
            )
        delay = backoff_seconds(inquiry.reconcile_attempts)
        return finish(
            dict(next_attempt_at=Now() + Value(timedelta(seconds=delay))),
            InquiryEvent.Type.RECONCILED,
            gettext("확인하지 못함 (%(detail)s); 다시 물어봅니다") % {"detail": detail},
        )
    if found.answered:
        if _same_text(found.answer_text, text):
            return finish(
                dict(
                    send_status=S.SENT,
                    sent_at=Now(),
                    # accepted during the unknown attempt, not now: when that request started
                    first_answered_at=Coalesce(Subquery(_last_attempt_start(inquiry_id)), Now()),
                    final_answer=text,
                    next_attempt_at=None,
                    lease_expires_at=None,
                    last_send_error="",
                ),
                InquiryEvent.Type.RECONCILED,
                gettext("마켓에 우리 답변이 있음"),
            )
        return finish(
            dict(
                send_status=S.NOT_SENT,
                status=ST.ANSWERED_ELSEWHERE,
                first_answered_at=Now(),
                claim_token=None,
                next_attempt_at=None,
                lease_expires_at=None,
                external_answer=found.answer_text or "",
                draft_agreement=similarity(inquiry.draft_answer, found.answer_text or ""),
            ),
            InquiryEvent.Type.ANSWERED_ELSEWHERE,
            gettext("partialauto 밖에서 답변됨"),
            to_status=ST.ANSWERED_ELSEWHERE,
        )
    # Not answered. Only once the lease has run out (no request of ours can still start) and the quiet
    # period has passed (none can still land) may we call it not delivered.
    in_flight_until = inquiry.lease_expires_at or inquiry.claimed_at or inquiry.updated_at
    settle_after = in_flight_until + timedelta(seconds=quiet_seconds())
    if timezone.now() < settle_after:
        return finish(
            dict(next_attempt_at=settle_after),
            InquiryEvent.Type.RECONCILED,
            gettext("아직 답변 없음; 우리 요청이 더는 도착할 수 없을 때까지 기다립니다"),
        )
    if inquiry.send_attempts >= glob.max_send_attempts:
        return finish(
            dict(
                send_status=S.SEND_FAILED,
                status=ST.HUMAN_REVIEW,
                claim_token=None,
                next_attempt_at=None,
                lease_expires_at=None,
                last_send_error="not delivered; attempts used up",
            ),
            InquiryEvent.Type.ESCALATED,
            gettext("전달되지 않았고 전송 시도를 다 썼음; 사람에게 넘김"),
            to_status=ST.HUMAN_REVIEW,
        )
    return finish(
        dict(
            send_status=S.SEND_FAILED,
            claim_token=None,
            lease_expires_at=None,
            next_attempt_at=Now() + Value(timedelta(seconds=backoff_seconds(inquiry.send_attempts))),
            last_send_error="not delivered (confirmed by lookup)",
        ),
        InquiryEvent.Type.RECONCILED,
        gettext("전달되지 않음을 확인함; 다시 보낼 수 있음"),
    )
