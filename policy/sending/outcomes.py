"""Step 4, what a call came to, written fenced by the claim token."""

from __future__ import annotations

import functools
from datetime import timedelta

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Now

from inquiries import events
from inquiries.calibration import same_text, similarity
from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from inquiries.transitions import Step
from policy.controls import GlobalControls
from policy.models import AccountRollout
from policy.sending.calls import _CallResult
from policy.sending.common import (
    _DELIVERED,
    _DELIVERED_FROM,
    _DELIVERED_TO,
    ST,
    WORKER,
    Claim,
    Out,
    Result,
    S,
    SendReport,
    _col,
    _event_columns,
    _finalize,
    backoff_seconds,
    log,
    quiet_seconds,
)


def _record_outcome(claim_: Claim, inquiry: Inquiry, text: str, glob: GlobalControls, call: _CallResult) -> SendReport:
    """Step 4 for one row whose call did not deliver: write what it came to, fenced by the claim token
    (a delivered answer is written by :func:`_finalize_delivered`)."""
    from markets.clients.types import SendOutcome

    outcome, http_status, error = call.outcome, call.http_status, call.error
    if outcome == SendOutcome.DELIVERED:  # below, anything else is "not delivered" and may be sent again
        raise ValueError("a delivered answer is written by _finalize_delivered")
    retry_after = call.retry_after
    attempt = claim_.attempt_no
    account_id = inquiry.account_id
    if outcome == SendOutcome.ALREADY_ANSWERED:
        # Never a failure: ask the marketplace whose answer it is.
        return _settle_already_answered(claim_, inquiry, text, http_status)

    if outcome == SendOutcome.UNKNOWN:
        # Neither a failure nor a success for the rollback rules until reconciliation says which.
        ok = _finalize(
            claim_,
            Step.OUTCOME_UNKNOWN,
            fields=dict(
                send_status=S.SEND_UNKNOWN,
                last_send_error=error[:2000],
                lease_expires_at=Now(),
                next_attempt_at=Now() + Value(timedelta(seconds=quiet_seconds())),
            ),
            outcome=Out.UNKNOWN,
            message=error,
            http_status=http_status,
            account_id=account_id,
        )
        log.warning(
            "Inquiry %s: outcome unknown (%s); will reconcile with the marketplace before any resend", inquiry.pk, error
        )
        return SendReport(inquiry.pk, Result.SEND_UNKNOWN if ok else Result.FENCED, error)

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
        Step.FAILED,
        fields=fields,
        outcome=outcome,
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
    return SendReport(
        inquiry.pk, (Result.ESCALATED if to_status else Result.SEND_FAILED) if ok else Result.FENCED, error
    )


def _after_failure() -> None:
    from policy.monitor import check_after_failure

    check_after_failure()


def _settle_already_answered(claim_: Claim, inquiry: Inquiry, text: str, http_status: int | None) -> SendReport:
    from markets.connect import cached_client_for

    try:
        found = cached_client_for(inquiry.account).lookup(inquiry.kind, inquiry.external_id, inquiry.created_at)
    except Exception as exc:
        found = None
        log.warning("Inquiry %s: lookup after 'already answered' failed: %s", inquiry.pk, exc)
    if found is not None and found.answered and same_text(found.answer_text, text):
        ok = _finalize(
            claim_,
            Step.ALREADY_OURS,
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
            message="marketplace already has our answer",
            http_status=http_status,
            failure=False,
            account_id=inquiry.account_id,
        )
        return SendReport(inquiry.pk, Result.SENT if ok else Result.FENCED, "already had our answer")
    # Someone else answered (or we cannot tell whose answer it is): nothing more to send.
    elsewhere = found.answer_text if found is not None and found.answered else ""
    ok = _finalize(
        claim_,
        Step.ALREADY_ELSEWHERE,
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
        message="answered outside partialauto",
        http_status=http_status,
        account_id=inquiry.account_id,
        release_quota=True,
    )
    return SendReport(inquiry.pk, Result.ANSWERED_ELSEWHERE if ok else Result.FENCED)


def _finalize_delivered(delivered: list) -> set[int]:
    """Write SENT for every delivered row of a group in one statement: the inquiry rows (each fenced by
    its own claim token), their send attempts, the accounts' failure streaks and the SENT events of
    exactly the rows written. Returns the ids written. ``delivered``: ((claim, inquiry, text), call).

    Elsewhere (SQLite: one process, one row per group) each row is written by :func:`_finalize`, the
    same step of the transition table with the same fields."""
    if connection.vendor != "postgresql":
        return {
            claim_.inquiry_id
            for (claim_, inquiry, text), call in delivered
            if _finalize(
                claim_,
                Step.DELIVERED,
                fields=dict(
                    send_status=_DELIVERED_TO,
                    sent_at=Now(),
                    first_answered_at=Now(),
                    remote_ref=call.remote_ref[:64],
                    final_answer=text,
                    last_send_error="",
                    lease_expires_at=None,
                    next_attempt_at=None,
                    is_test_mode=False,
                ),
                outcome=Out.DELIVERED,
                http_status=call.http_status,
                failure=False,
                account_id=inquiry.account_id,
            )
        }
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
                _DELIVERED_TO,
                _DELIVERED_FROM,
                Out.DELIVERED,
                _DELIVERED.event,
                WORKER,
                _DELIVERED_FROM,
                _DELIVERED_TO,
            ],
        )
        written = {row[0] for row in cursor.fetchall()}
    for (claim_, _inquiry, _text), _result in delivered:
        if claim_.inquiry_id not in written:
            log.error(
                "Inquiry %s: finalize fenced out (claim %s no longer holds the row); outcome %s not written",
                claim_.inquiry_id,
                claim_.token,
                Out.DELIVERED,
            )
    return written


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
