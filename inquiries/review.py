"""Human review: a person edits and approves an answer (sent through the same send path as automatic
answers), or closes the inquiry without answering. Whether the draft was changed feeds calibration."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from inquiries import transitions
from inquiries.calibration import similarity, squash_spaces
from inquiries.models import Inquiry
from inquiries.transitions import Step
from partialauto.queue import enqueue_send

S = Inquiry.SendStatus
ST = Inquiry.Status

REVIEW_PERMISSION = "inquiries.review_inquiry"
# A person may act while nothing is (or may be) on its way to the marketplace: the source states of
# APPROVE and CLOSE in the transition table.


class ReviewError(ValueError):
    pass


def _check(user) -> None:
    if not user.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("reviewing answers needs the CS-agent or rollout-manager role")


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
    edited = squash_spaces(answer) != squash_spaces(inquiry.draft_answer)
    labelled, change = _labelled(inquiry, intent)
    done = transitions.perform(
        inquiry.pk,
        Step.APPROVE,
        actor_label="",
        actor=user,
        fields=dict(
            final_answer=answer,
            human_edited=edited,
            draft_agreement=similarity(inquiry.draft_answer, answer),
            labelled_intent=labelled,
            reviewed_by=user,
            reviewed_at=timezone.now(),
            review_note=note,
            is_test_mode=False,
            next_attempt_at=None,
        ),
        message="edited and approved" if edited else "approved as drafted",
        data={"edited": edited, **change},
    )
    if not done:
        raise ReviewError("this inquiry is being sent, was sent or is closed: it can no longer be approved")
    transaction.on_commit(lambda: enqueue_send(inquiry.pk))
    inquiry.refresh_from_db()
    return inquiry


@transaction.atomic
def inquiry_close(*, inquiry: Inquiry, user, note: str = "", intent: str | None = None) -> Inquiry:
    _check(user)
    labelled, change = _labelled(inquiry, intent)
    done = transitions.perform(
        inquiry.pk,
        Step.CLOSE,
        actor_label="",
        actor=user,
        fields=dict(
            reviewed_by=user,
            reviewed_at=timezone.now(),
            review_note=note,
            next_attempt_at=None,
            labelled_intent=labelled,
        ),
        message=note or "closed without an answer",
        data=change,
    )
    if not done:
        raise ReviewError("this inquiry is being sent, was sent or is already closed")
    inquiry.refresh_from_db()
    return inquiry
