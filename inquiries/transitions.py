"""Every legal change of an inquiry's ``status`` and ``send_status``, in one table, and the one function
that performs a change: a conditional UPDATE (the row must still be in a source state, plus whatever
fence the caller adds, such as its claim token) that writes the change's event in the same transaction.

The hand-written batch statements (the decision batch, the batch claim, the batch "delivered") take
their states and event types from this table too (:func:`only`), and ``tests/inquiries/test_transitions.py``
walks every row of it: each change succeeds from each of its source states and is refused from every
other state.

This module imports no model at load time (``inquiries.models`` builds its due and review conditions
from the table), so its values are the plain strings of ``Inquiry.Status`` / ``Inquiry.SendStatus`` and
``InquiryEvent.Type``; the walking test checks that they are exactly those choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from django.db.models import Q

# status (the policy decision)
NEW = "NEW"
AUTO_SEND = "AUTO_SEND"
HUMAN_REVIEW = "HUMAN_REVIEW"
APPROVED = "APPROVED"
ANSWERED_ELSEWHERE = "ANSWERED_ELSEWHERE"
CLOSED = "CLOSED"
STATUSES = frozenset({NEW, AUTO_SEND, HUMAN_REVIEW, APPROVED, ANSWERED_ELSEWHERE, CLOSED})
# send_status (the delivery)
NOT_SENT = "NOT_SENT"
SENDING = "SENDING"
SENT = "SENT"
SEND_FAILED = "SEND_FAILED"
SEND_UNKNOWN = "SEND_UNKNOWN"
SEND_STATUSES = frozenset({NOT_SENT, SENDING, SENT, SEND_FAILED, SEND_UNKNOWN})

# Groups the table and the queries share.
OPEN = frozenset({NEW, AUTO_SEND, HUMAN_REVIEW, APPROVED})  # still to be answered by us or a person
SENDABLE = frozenset({AUTO_SEND, APPROVED})  # a send may be claimed
IDLE = frozenset({NOT_SENT, SEND_FAILED})  # nobody is sending it now and it was never delivered
IN_FLIGHT = frozenset({SENDING, SEND_UNKNOWN})  # a send may have reached the marketplace


class Step(StrEnum):
    DECIDE = "decide"  # the policy decided a new inquiry
    ANSWERED_ON_MARKET = "answered_on_market"  # the poll saw someone answer it on the marketplace
    APPROVE = "approve"  # a person approved an answer
    CLOSE = "close"  # a person closed it: no answer needed
    QUOTA_ESCALATE = "quota_escalate"  # the daily quota ran out at send time: to a person
    CLAIM = "claim"  # a sender took the send (claim token, lease)
    DELIVERED = "delivered"  # the marketplace accepted our answer
    OUTCOME_UNKNOWN = "outcome_unknown"  # the call may or may not have arrived
    FAILED = "failed"  # the marketplace refused or failed; retried, or to a person when final
    TEST_SEND = "test_send"  # test mode: recorded, the marketplace never called
    RELEASE = "release"  # a gate closed after the claim and before the call: the claim is given back
    ALREADY_OURS = "already_ours"  # "already answered" and the answer there is ours
    ALREADY_ELSEWHERE = "already_elsewhere"  # "already answered" by someone else
    RECONCILE_TAKE = "reconcile_take"  # the reconciler takes over an unknown or stale send
    RECONCILE_WAIT = "reconcile_wait"  # the reconciler could not tell yet; asks again later
    RECONCILE_DELIVERED = "reconcile_delivered"  # the lookup shows our answer
    RECONCILE_ELSEWHERE = "reconcile_elsewhere"  # the lookup shows someone else's answer
    RECONCILE_NOT_DELIVERED = "reconcile_not_delivered"  # not delivered: may be sent again
    RECONCILE_EXHAUSTED = "reconcile_exhausted"  # not delivered and the attempts are used up: to a person
    RECONCILE_GIVE_UP = "reconcile_give_up"  # a person must check: we never send it again by ourselves


@dataclass(frozen=True)
class Transition:
    step: Step
    event: str | None  # the InquiryEvent type written; None: a take-over that changes no state a person sees
    status_from: frozenset[str]  # empty: any status (not part of the condition)
    status_to: frozenset[str]  # the statuses it may set; empty: status unchanged
    send_from: frozenset[str]  # empty: any send status
    send_to: frozenset[str]  # empty: send status unchanged

    def allows(self, status: str, send_status: str) -> bool:
        return (not self.status_from or status in self.status_from) and (
            not self.send_from or send_status in self.send_from
        )


def _t(
    step: Step,
    event: str | None,
    *,
    status_from: frozenset[str] | set[str] = frozenset(),
    status_to: frozenset[str] | set[str] = frozenset(),
    send_from: frozenset[str] | set[str] = frozenset(),
    send_to: frozenset[str] | set[str] = frozenset(),
) -> Transition:
    return Transition(
        step, event, frozenset(status_from), frozenset(status_to), frozenset(send_from), frozenset(send_to)
    )


TABLE: Mapping[Step, Transition] = {
    t.step: t
    for t in (
        _t(
            Step.DECIDE,
            "DECIDED",
            status_from={NEW},
            status_to={AUTO_SEND, HUMAN_REVIEW},
            send_from={NOT_SENT},
        ),
        _t(
            Step.ANSWERED_ON_MARKET,
            "ANSWERED_ELSEWHERE",
            status_from=OPEN,
            status_to={ANSWERED_ELSEWHERE},
            send_from=IDLE,
        ),
        _t(Step.APPROVE, "APPROVED", status_from=OPEN, status_to={APPROVED}, send_from=IDLE),
        _t(Step.CLOSE, "CLOSED", status_from=OPEN, status_to={CLOSED}, send_from=IDLE),
        _t(
            Step.QUOTA_ESCALATE,
            "ESCALATED",
            status_from={AUTO_SEND},
            status_to={HUMAN_REVIEW},
            send_from=IDLE,
        ),
        _t(Step.CLAIM, "CLAIMED", status_from=SENDABLE, send_from=IDLE, send_to={SENDING}),
        _t(Step.DELIVERED, "SENT", send_from={SENDING}, send_to={SENT}),
        _t(Step.OUTCOME_UNKNOWN, "SEND_UNKNOWN", send_from={SENDING}, send_to={SEND_UNKNOWN}),
        _t(Step.FAILED, "SEND_FAILED", send_from={SENDING}, send_to={SEND_FAILED}, status_to={HUMAN_REVIEW}),
        _t(Step.TEST_SEND, "TEST_MODE", send_from={SENDING}, send_to={SEND_FAILED}),
        _t(
            Step.RELEASE,
            "BLOCKED",
            status_from=SENDABLE,
            send_from={SENDING},
            send_to=IDLE,
            status_to={HUMAN_REVIEW, NEW},
        ),
        _t(Step.ALREADY_OURS, "RECONCILED", send_from={SENDING}, send_to={SENT}),
        _t(
            Step.ALREADY_ELSEWHERE,
            "ANSWERED_ELSEWHERE",
            send_from={SENDING},
            send_to={NOT_SENT},
            status_to={ANSWERED_ELSEWHERE},
        ),
        _t(Step.RECONCILE_TAKE, None, send_from=IN_FLIGHT, send_to={SEND_UNKNOWN}),
        _t(Step.RECONCILE_WAIT, "RECONCILED", send_from={SEND_UNKNOWN}),
        _t(Step.RECONCILE_DELIVERED, "RECONCILED", send_from={SEND_UNKNOWN}, send_to={SENT}),
        _t(
            Step.RECONCILE_ELSEWHERE,
            "ANSWERED_ELSEWHERE",
            send_from={SEND_UNKNOWN},
            send_to={NOT_SENT},
            status_to={ANSWERED_ELSEWHERE},
        ),
        _t(Step.RECONCILE_NOT_DELIVERED, "RECONCILED", send_from={SEND_UNKNOWN}, send_to={SEND_FAILED}),
        _t(
            Step.RECONCILE_EXHAUSTED,
            "ESCALATED",
            send_from={SEND_UNKNOWN},
            send_to={SEND_FAILED},
            status_to={HUMAN_REVIEW},
        ),
        # The send stays unknown (it may have arrived): a person checks the marketplace.
        _t(Step.RECONCILE_GIVE_UP, "ESCALATED", send_from={SEND_UNKNOWN}, status_to={HUMAN_REVIEW}),
    )
}


class IllegalTransition(ValueError):
    """A change the table does not allow (a programming error, never a race: races are refused by the
    conditional UPDATE and reported as ``False``)."""


def only(values: frozenset[str]) -> str:
    """The one value of a single-valued set of the table, for the hand-written statements."""
    if len(values) != 1:
        raise IllegalTransition(f"expected one state, the table has {sorted(values)}")
    return next(iter(values))


def _the_one(step: Step, values: frozenset[str]) -> str:
    if len(values) != 1:
        raise IllegalTransition(f"{step}: choose one of {sorted(values)}")
    return next(iter(values))


def event_of(step: Step) -> str:
    """The event type ``step`` writes."""
    event = TABLE[step].event
    if event is None:
        raise IllegalTransition(f"{step} writes no event")
    return event


def source_q(step: Step) -> Q:
    """The source states of ``step`` as a query condition."""
    from django.db.models import Q

    t = TABLE[step]
    q = Q()
    if t.status_from:
        q &= Q(status__in=sorted(t.status_from))
    if t.send_from:
        q &= Q(send_status__in=sorted(t.send_from))
    return q


def target(step: Step, *, status: str = "", send_status: str = "") -> dict[str, str]:
    """The state fields ``step`` writes, checked against the table (an unchanged field is left out)."""
    t = TABLE[step]
    if status and status not in t.status_to:
        raise IllegalTransition(f"{step}: status may become {sorted(t.status_to)}, not {status}")
    if send_status and send_status not in t.send_to:
        raise IllegalTransition(f"{step}: send status may become {sorted(t.send_to)}, not {send_status}")
    # A change of the send status must name its target; so must a change of the status alone. A status
    # change that goes with a send-status change is optional (e.g. a final failure goes to a person).
    if t.send_to and not send_status:
        send_status = _the_one(step, t.send_to)
    if t.status_to and not t.send_to and not status:
        status = _the_one(step, t.status_to)
    fields = {}
    if status:
        fields["status"] = status
    if send_status:
        fields["send_status"] = send_status
    return fields


def perform(
    inquiry_id: int,
    step: Step,
    *,
    actor_label: str,
    status: str = "",
    send_status: str = "",
    fence: Q | None = None,
    fields: Mapping[str, Any] | None = None,
    was: tuple[str, str] | None = None,
    actor=None,
    message: str = "",
    data: dict | None = None,
) -> bool:
    """Change one inquiry by ``step``: ``UPDATE … WHERE id = … AND <source states> AND <fence>`` setting
    the target states and ``fields``, and its event, in one transaction. False when the row was not in a
    source state (or the fence did not hold): someone else changed it first, nothing written.

    ``was``: the (status, send status) the caller already knows the row is in (it read them, or the
    fence pins them); otherwise the row is locked and read first, so the event names where it came from."""
    from django.db import transaction
    from django.db.models.functions import Now

    from inquiries import events
    from inquiries.models import Inquiry

    t = TABLE[step]
    to = target(step, status=status, send_status=send_status)
    qs = Inquiry.objects.filter(source_q(step), pk=inquiry_id)
    if fence is not None:
        qs = qs.filter(fence)
    with transaction.atomic():
        if was is None:
            row = qs.select_for_update().values_list("status", "send_status").first()
            if row is None:
                return False
            was = (row[0], row[1])
        elif not t.allows(*was):
            raise IllegalTransition(f"{step} cannot start from {was}")
        if not qs.update(**({"updated_at": Now()} | dict(fields or {}) | to)):
            return False
        if t.event is not None:
            events.record(
                inquiry_id,
                t.event,
                actor_label=actor_label,
                actor=actor,
                from_status=was[0] if "status" in to else "",
                to_status=to.get("status", ""),
                from_send_status=was[1] if "send_status" in to else "",
                to_send_status=to.get("send_status", ""),
                message=message,
                data=data,
            )
    return True
