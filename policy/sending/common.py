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

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from inquiries import transitions
from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from inquiries.transitions import Step
from partialauto import backoff
from policy.controls import human_sends_held_q
from policy.models import AccountRollout
from policy.quota import quota_release

log = logging.getLogger("partialauto.send")


# The states the hand-written claim and "delivered" statements write: from the transition table.
_CLAIM = transitions.TABLE[Step.CLAIM]


_CLAIMED_TO = transitions.only(_CLAIM.send_to)


_DELIVERED = transitions.TABLE[Step.DELIVERED]


_DELIVERED_FROM = transitions.only(_DELIVERED.send_from)


_DELIVERED_TO = transitions.only(_DELIVERED.send_to)


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


class Result(StrEnum):
    """What one send came to (the reports of ``send_inquiry`` / ``send_due`` / ``reconcile``)."""

    SENT = "SENT"  # the marketplace accepted our answer
    SEND_FAILED = "SEND_FAILED"  # refused or failed for sure; retried later
    SEND_UNKNOWN = "SEND_UNKNOWN"  # may have arrived: reconciliation settles it
    TEST_MODE = "TEST_MODE"  # test mode: recorded, the marketplace never called
    NOT_CLAIMED = "NOT_CLAIMED"  # not due, or another worker owns it
    DEFERRED = "DEFERRED"  # outside business hours: waits for the opening
    ESCALATED = "ESCALATED"  # handed to a person
    ANSWERED_ELSEWHERE = "ANSWERED_ELSEWHERE"  # someone else answered it on the marketplace
    BLOCKED = "BLOCKED"  # a gate closed after the claim: the claim given back
    HELD = "HELD"  # a person's approved answer waits out test mode or the emergency stop
    FENCED = "FENCED"  # our claim no longer holds the row: nothing written
    DB_ERROR = "DB_ERROR"  # the database failed while the group was written; the reconciler settles it


@dataclass(frozen=True)
class SendReport:
    inquiry_id: int
    result: Result
    detail: str = ""


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential back-off with full jitter; never sooner than the marketplace asked."""
    base = getattr(settings, "CS_SEND_BACKOFF_BASE_SECONDS", BACKOFF_BASE_SECONDS)
    cap = getattr(settings, "CS_SEND_BACKOFF_CAP_SECONDS", BACKOFF_CAP_SECONDS)
    return backoff.jittered(attempt, base=base, cap=cap, at_least=retry_after or 0.0)


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


def _finish_attempt(claim_: Claim, outcome: str, *, http_status: int | None = None, error: str = "") -> None:
    SendAttempt.objects.filter(claim_token=claim_.token).update(
        outcome=outcome, http_status=http_status, error=error[:1000], finished_at=Now()
    )


def _fenced(claim_: Claim):
    return Inquiry.objects.filter(pk=claim_.inquiry_id, send_status=_CLAIMED_TO, claim_token=claim_.token)


def _account_failure(account_id, *, failed: bool) -> None:
    qs = AccountRollout.objects.filter(account_id=account_id)
    if failed:
        qs.update(consecutive_failures=F("consecutive_failures") + 1)
    else:
        qs.exclude(consecutive_failures=0).update(consecutive_failures=0)


def _finalize(
    claim_: Claim,
    step: Step,
    *,
    fields: dict,
    outcome: str,
    message: str = "",
    http_status: int | None = None,
    failure: bool | None = None,
    account_id=None,
    release_quota: bool = False,
) -> bool:
    """Write what a claimed send came to, by ``step`` of the transition table (``status`` and
    ``send_status`` in ``fields`` are its targets), fenced by the claim token; with the attempt's
    outcome, the account's failure streak and the quota slot in the same transaction."""
    fields = dict(fields)
    targets = {"status": fields.pop("status", ""), "send_status": fields.pop("send_status", "")}
    with transaction.atomic():
        if not transitions.perform(
            claim_.inquiry_id,
            step,
            actor_label=WORKER,
            fence=Q(claim_token=claim_.token),
            fields=fields,
            message=message,
            data={"attempt": claim_.attempt_no, "http_status": http_status},
            **targets,
        ):
            log.error(
                "Inquiry %s: finalize fenced out (claim %s no longer holds the row); outcome %s not written",
                claim_.inquiry_id,
                claim_.token,
                outcome,
            )
            return False
        _finish_attempt(claim_, outcome, http_status=http_status, error=message)
        if failure is not None and account_id is not None:
            _account_failure(account_id, failed=failure)
        if release_quota and claim_.quota_day is not None:
            quota_release(account_id=account_id, day=claim_.quota_day)
    return True


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
