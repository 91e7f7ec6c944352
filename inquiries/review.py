"""Human review: a person edits and approves an answer (sent through the same send path as automatic
answers), or closes the inquiry without answering. Whether the draft was changed feeds calibration."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inquiries import events
from inquiries.calibration import similarity
from inquiries.models import Inquiry, InquiryEvent

S = Inquiry.SendStatus
ST = Inquiry.Status

REVIEW_PERMISSION = "inquiries.review_inquiry"
# A person may act while nothing is (or may be) on its way to the marketplace.
_OPEN_SEND = [S.NOT_SENT, S.SEND_FAILED]
_OPEN_STATUS = [ST.NEW, ST.AUTO_SEND, ST.HUMAN_REVIEW, ST.APPROVED]


class ReviewError(ValueError):
    pass


def _check(user) -> None:
    if not user.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("reviewing answers needs the CS-agent or rollout-manager role")


def _normalized(text: str) -> str:
    return " ".join((text or "").split())


def _labelled(inquiry: Inquiry, intent: str | None) -> tuple[str, dict]:
    """The intent a person gave (or confirmed), and what to record about it."""
    chosen = (intent or "").strip() or inquiry.intent
    if chosen and chosen != inquiry.intent:
        return chosen, {"intent": {"from": inquiry.intent, "to": chosen}}
    return chosen, {}


@transaction.atomic
def inquiry_approve(*, inquiry: Inquiry, user, answer: str, note: str = "", intent: str | None = None) -> Inquiry:
    """Approve ``answer`` for sending. ``intent``: the intent the person says the inquiry has (a
    correction of the AI's, or a confirmation); the next ``train_agent`` learns from it."""
    _check(user)
    answer = (answer or "").strip()
    if len(answer) < 2:
        raise ReviewError("the answer is empty")
    if len(answer) > 1000:
        raise ReviewError("the answer is longer than 1000 characters (the marketplaces' limit)")
    edited = _normalized(answer) != _normalized(inquiry.draft_answer)
    labelled, change = _labelled(inquiry, intent)
    n = Inquiry.objects.filter(Q(pk=inquiry.pk), status__in=_OPEN_STATUS, send_status__in=_OPEN_SEND).update(
        status=ST.APPROVED,
        final_answer=answer,
        human_edited=edited,
        draft_agreement=similarity(inquiry.draft_answer, answer),
        labelled_intent=labelled,
        reviewed_by=user,
        reviewed_at=timezone.now(),
        review_note=note,
        is_test_mode=False,
        next_attempt_at=None,
        updated_at=timezone.now(),
    )
    if not n:
        raise ReviewError("this inquiry is being sent, was sent or is closed: it can no longer be approved")
    events.record(
        inquiry,
        InquiryEvent.Type.APPROVED,
        actor_label="",
        actor=user,
        from_status=inquiry.status,
        to_status=ST.APPROVED,
        message="edited and approved" if edited else "approved as drafted",
        data={"edited": edited, **change},
    )
    from inquiries.decide import enqueue_send

    transaction.on_commit(lambda: enqueue_send(inquiry.pk))
    inquiry.refresh_from_db()
    return inquiry


@transaction.atomic
def inquiry_close(*, inquiry: Inquiry, user, note: str = "", intent: str | None = None) -> Inquiry:
    _check(user)
    labelled, change = _labelled(inquiry, intent)
    n = Inquiry.objects.filter(pk=inquiry.pk, status__in=_OPEN_STATUS, send_status__in=_OPEN_SEND).update(
        status=ST.CLOSED,
        reviewed_by=user,
        reviewed_at=timezone.now(),
        review_note=note,
        next_attempt_at=None,
        labelled_intent=labelled,
        updated_at=timezone.now(),
    )
    if not n:
        raise ReviewError("this inquiry is being sent, was sent or is already closed")
    events.record(
        inquiry,
        InquiryEvent.Type.CLOSED,
        actor_label="",
        actor=user,
        from_status=inquiry.status,
        to_status=ST.CLOSED,
        message=note or "closed without an answer",
        data=change,
    )
    inquiry.refresh_from_db()
    return inquiry
