"""The transition table, walked: every step succeeds from each of its source states (with its event) and
is refused from every other state, leaving the row and the trail as they were."""

from __future__ import annotations

import ast
import itertools
import uuid
from pathlib import Path

import pytest

from inquiries import transitions
from inquiries.models import Inquiry, InquiryEvent
from inquiries.transitions import TABLE, IllegalTransition, Step
from tests.factories import make_account, make_inquiry

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_speaks_the_models_values():
    assert transitions.STATUSES == set(Inquiry.Status.values)
    assert transitions.SEND_STATUSES == set(Inquiry.SendStatus.values)
    assert set(Step) == set(TABLE)
    for t in TABLE.values():
        assert t.status_from <= transitions.STATUSES and t.status_to <= transitions.STATUSES, t.step
        assert t.send_from <= transitions.SEND_STATUSES and t.send_to <= transitions.SEND_STATUSES, t.step
        assert t.event is None or t.event in InquiryEvent.Type.values, t.step
        assert t.status_to or t.send_to or t.event, f"{t.step} changes nothing and records nothing"


def _targets(t: transitions.Transition) -> list[dict[str, str]]:
    """Every target combination the step may write."""
    sends = sorted(t.send_to) or [""]
    statuses = sorted(t.status_to) if not t.send_to else ["", *sorted(t.status_to)]
    return [{"status": st, "send_status": ss} for st, ss in itertools.product(statuses or [""], sends)]


@pytest.mark.django_db
@pytest.mark.parametrize("step", list(Step))
def test_each_step_from_every_state(step):
    t = TABLE[step]
    account = make_account()
    for status, send_status in itertools.product(sorted(transitions.STATUSES), sorted(transitions.SEND_STATUSES)):
        for chosen in _targets(t):
            row = make_inquiry(account, status=status, send_status=send_status, claim_token=uuid.uuid4())
            events_before = InquiryEvent.objects.filter(inquiry=row).count()
            done = transitions.perform(row.pk, step, actor_label="test", fields={"claim_token": uuid.uuid4()}, **chosen)
            row.refresh_from_db()
            trail = list(InquiryEvent.objects.filter(inquiry=row).order_by("id"))[events_before:]
            if t.allows(status, send_status):
                assert done, (step, status, send_status)
                assert row.status == (chosen["status"] or status), (step, status, send_status)
                assert row.send_status == (chosen["send_status"] or send_status), (step, status, send_status)
                if t.event is None:
                    assert trail == []
                else:
                    [event] = trail
                    assert event.type == t.event
                    assert (event.from_status, event.to_status) == (
                        (status, chosen["status"]) if chosen["status"] else ("", "")
                    )
                    assert (event.from_send_status, event.to_send_status) == (
                        (send_status, chosen["send_status"]) if chosen["send_status"] else ("", "")
                    )
            else:
                assert not done, (step, status, send_status)
                assert (row.status, row.send_status) == (status, send_status)
                assert trail == []


def test_a_target_outside_the_table_is_refused():
    with pytest.raises(IllegalTransition):
        transitions.target(Step.APPROVE, status=Inquiry.Status.CLOSED)
    with pytest.raises(IllegalTransition):
        transitions.target(Step.DELIVERED, send_status=Inquiry.SendStatus.NOT_SENT)
    with pytest.raises(IllegalTransition):  # the decision must say which way it went
        transitions.target(Step.DECIDE)


@pytest.mark.django_db
def test_a_fence_that_no_longer_holds_writes_nothing():
    account = make_account()
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    row = make_inquiry(account, status="AUTO_SEND", send_status="SENDING", claim_token=theirs)
    from django.db.models import Q

    assert not transitions.perform(row.pk, Step.DELIVERED, actor_label="test", fence=Q(claim_token=mine))
    row.refresh_from_db()
    assert row.send_status == "SENDING" and not row.events.exists()


STATES = transitions.STATUSES | transitions.SEND_STATUSES


def _inquiry_states(owner: ast.expr) -> bool:
    if isinstance(owner, ast.Name):
        return owner.id in ("ST", "S")
    return (
        isinstance(owner, ast.Attribute)
        and owner.attr in ("Status", "SendStatus")
        and isinstance(owner.value, ast.Name)
        and owner.value.id == "Inquiry"
    )


def _literal_state_writes(path: Path) -> list[str]:
    """``.update(status=…)`` / ``.update(send_status=…)`` with a state written out (``ST.SENT``,
    ``Inquiry.SendStatus.SENT``, ``"SENT"``) instead of taken from the transition table."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"):
            continue
        for kw in node.keywords:
            if kw.arg not in ("status", "send_status"):
                continue
            value = kw.value
            literal = isinstance(value, ast.Constant) and value.value in STATES
            # ST.SENT / S.SENT (the aliases the code uses) or Inquiry.Status.SENT / Inquiry.SendStatus.SENT
            named = isinstance(value, ast.Attribute) and value.attr in STATES and _inquiry_states(value.value)
            if literal or named:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_inquiry_state_is_written_around_the_table():
    sources = [p for app in ("inquiries", "policy") for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    offenders = [hit for path in sources if path.name != "transitions.py" for hit in _literal_state_writes(path)]
    assert not offenders, offenders
