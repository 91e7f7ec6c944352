"""Settling unknown outcomes by asking the marketplace; never by sending again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, Subquery, TextField, Value
from django.db.models.functions import Coalesce, Concat, Now
from django.utils import timezone
from django.utils.translation import gettext

from inquiries import transitions
from inquiries.calibration import same_text, similarity
from inquiries.models import Inquiry, SendAttempt
from inquiries.transitions import Step
from policy.controls import GlobalControls, load_global
from policy.sending.common import (
    MAX_RECONCILE_ATTEMPTS,
    RECONCILER,
    ST,
    Out,
    Result,
    S,
    SendReport,
    _account_failure,
    backoff_seconds,
    log,
    quiet_seconds,
)
from policy.sending.outcomes import _after_failure


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
    taken = transitions.perform(
        inquiry_id,
        Step.RECONCILE_TAKE,
        actor_label=RECONCILER,
        fence=Q(claim_token=old_token),
        fields={"claim_token": token, "reconcile_attempts": F("reconcile_attempts") + 1},
    )
    if not taken:
        return SendReport(inquiry_id, Result.NOT_CLAIMED)
    inquiry = Inquiry.objects.select_related("account").get(pk=inquiry_id)
    if old_token is not None:
        SendAttempt.objects.filter(claim_token=old_token, outcome=Out.PENDING).update(
            outcome=Out.UNKNOWN, finished_at=Now(), error="lease expired; reconciling"
        )
    text = inquiry.final_answer or inquiry.draft_answer
    fence = Q(claim_token=token)
    try:
        found = cached_client_for(inquiry.account).lookup(inquiry.kind, inquiry.external_id, inquiry.created_at)
        lookup_error = getattr(found, "outcome_error", None)
    except Exception as exc:
        found, lookup_error = None, f"{type(exc).__name__}: {exc}"

    def finish(step: Step, fields: dict, message: str) -> SendReport:
        settled_as = _settled_outcome(fields)
        targets = {"status": fields.pop("status", ""), "send_status": fields.pop("send_status", "")}
        with transaction.atomic():
            n = transitions.perform(
                inquiry_id, step, actor_label=RECONCILER, fence=fence, fields=fields, message=message, **targets
            )
            if n:
                if settled := settled_as:
                    # The attempt gets the outcome the marketplace confirms; the failure figures count it now.
                    _settle_attempt(inquiry_id, settled)
                    if settled != Out.ALREADY_ANSWERED:
                        _account_failure(inquiry.account_id, failed=settled == Out.FAILED_RETRYABLE)
        if n and settled_as == Out.FAILED_RETRYABLE:
            _after_failure()
        log.info("Inquiry %s reconciled: %s", inquiry_id, message)
        return SendReport(inquiry_id, Result(targets["send_status"] or S.SEND_UNKNOWN) if n else Result.FENCED, message)

    if found is None or lookup_error or not found.found:
        detail = lookup_error or (gettext("마켓에서 찾지 못함") if found is not None else gettext("조회 실패"))
        if inquiry.reconcile_attempts >= MAX_RECONCILE_ATTEMPTS:
            # A person must look at the marketplace: we will never send this one again by ourselves.
            return finish(
                Step.RECONCILE_GIVE_UP,
                dict(status=ST.HUMAN_REVIEW, next_attempt_at=None, last_send_error=f"reconcile gave up: {detail}"),
                gettext("전송 결과 확인을 포기함 (%(detail)s); 사람이 마켓에서 확인해야 합니다") % {"detail": detail},
            )
        delay = backoff_seconds(inquiry.reconcile_attempts)
        return finish(
            Step.RECONCILE_WAIT,
            dict(next_attempt_at=Now() + Value(timedelta(seconds=delay))),
            gettext("확인하지 못함 (%(detail)s); 다시 물어봅니다") % {"detail": detail},
        )
    if found.answered:
        if same_text(found.answer_text, text):
            return finish(
                Step.RECONCILE_DELIVERED,
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
                gettext("마켓에 우리 답변이 있음"),
            )
        return finish(
            Step.RECONCILE_ELSEWHERE,
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
            gettext("partialauto 밖에서 답변됨"),
        )
    # Not answered. Only once the lease has run out (no request of ours can still start) and the quiet
    # period has passed (none can still land) may we call it not delivered.
    in_flight_until = inquiry.lease_expires_at or inquiry.claimed_at or inquiry.updated_at
    settle_after = in_flight_until + timedelta(seconds=quiet_seconds())
    if timezone.now() < settle_after:
        return finish(
            Step.RECONCILE_WAIT,
            dict(next_attempt_at=settle_after),
            gettext("아직 답변 없음; 우리 요청이 더는 도착할 수 없을 때까지 기다립니다"),
        )
    if inquiry.send_attempts >= glob.max_send_attempts:
        return finish(
            Step.RECONCILE_EXHAUSTED,
            dict(
                send_status=S.SEND_FAILED,
                status=ST.HUMAN_REVIEW,
                claim_token=None,
                next_attempt_at=None,
                lease_expires_at=None,
                last_send_error="not delivered; attempts used up",
            ),
            gettext("전달되지 않았고 전송 시도를 다 썼음; 사람에게 넘김"),
        )
    return finish(
        Step.RECONCILE_NOT_DELIVERED,
        dict(
            send_status=S.SEND_FAILED,
            claim_token=None,
            lease_expires_at=None,
            next_attempt_at=Now() + Value(timedelta(seconds=backoff_seconds(inquiry.send_attempts))),
            last_send_error="not delivered (confirmed by lookup)",
        ),
        gettext("전달되지 않음을 확인함; 다시 보낼 수 있음"),
    )
