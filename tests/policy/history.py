"""Synthetic send histories for the monitor, KPI, readiness and dashboard tests.

``attempts()`` writes what the send path would have written — one inquiry and one send attempt per
send, with the outcome and the test-mode mark — at a chosen moment, in bulk. ``rollout_running_since``
backdates the rollout log, as if the accounts had been unlocked long ago (the monitor counts only
what happened after a person last lifted a rollback).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy.hours import SEOUL
from policy.models import RolloutEvent

_seq = itertools.count(1)

SEND_STATUS = {"DELIVERED": "SENT", "UNKNOWN": "SEND_UNKNOWN", "TEST_MODE": "SEND_FAILED"}


def live_accounts() -> tuple[MarketAccount, MarketAccount]:
    """Automation on, a Coupang account LIVE in phase 1 and a SmartStore account LIVE in phase 3."""
    from policy.models import Mode
    from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
    from tests.factories import make_account

    coupang = make_account("coupang_main")
    naver = make_account("smartstore", market="SMARTSTORE")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    rollout_unlock(account=coupang, mode=Mode.LIVE, phase=get_phase(1), actor=SYSTEM)
    rollout_unlock(account=naver, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    return coupang, naver


def attempts(
    account: MarketAccount,
    *,
    ok: int = 0,
    failed: int = 0,
    unknown: int = 0,
    test_mode: int = 0,
    at: dt.datetime | None = None,
    failed_outcome: str = "FAILED_RETRYABLE",
) -> list[SendAttempt]:
    """``ok`` delivered, ``failed`` definite failures, ``unknown`` unknown outcomes (not failures until
    reconciled), and ``test_mode`` test-mode sends (never failures), all started at ``at`` (default: a
    minute ago)."""
    at = at or timezone.now() - dt.timedelta(minutes=1)
    outcomes = ["DELIVERED"] * ok + [failed_outcome] * failed + ["UNKNOWN"] * unknown + ["TEST_MODE"] * test_mode
    if not outcomes:
        return []
    kind = "COUPANG_ONLINE" if account.market_code == "COUPANG" else "NAVER_QNA"
    inquiries = Inquiry.objects.bulk_create(
        Inquiry(
            account=account,
            market_code=account.market_code,
            kind=kind,
            external_id=f"h{next(_seq)}",
            created_at=at - dt.timedelta(minutes=2),
            content="배송 언제 되나요?",
            status="AUTO_SEND",
            decision_mode="TEST" if outcome == "TEST_MODE" else "LIVE",
            decided_at=at,
            intent="배송문의",
            confidence_score=0.95,
            draft_answer="곧 출고됩니다.",
            final_answer="곧 출고됩니다.",
            send_status=SEND_STATUS.get(outcome, "SEND_FAILED"),
            send_attempts=1,
            is_test_mode=outcome == "TEST_MODE",
            sent_at=at if outcome == "DELIVERED" else None,
        )
        for outcome in outcomes
    )
    return SendAttempt.objects.bulk_create(
        SendAttempt(
            inquiry=inquiry,
            account=account,
            market_code=account.market_code,
            attempt_no=1,
            claim_token=uuid.uuid4(),
            outcome=outcome,
            is_test_mode=outcome == "TEST_MODE",
            http_status=200 if outcome == "DELIVERED" else (503 if outcome == "UNKNOWN" else None),
            started_at=at,
            finished_at=at,
        )
        for inquiry, outcome in zip(inquiries, outcomes, strict=True)
    )


def seoul_day(offset_days: int, hour: int = 10, *, now: dt.datetime | None = None) -> dt.datetime:
    """``hour`` o'clock Asia/Seoul, ``offset_days`` days from today (negative: the past)."""
    today = (now or timezone.now()).astimezone(SEOUL).date()
    return dt.datetime.combine(today + dt.timedelta(days=offset_days), dt.time(hour), tzinfo=SEOUL)


def rollout_running_since(days: int = 30) -> None:
    """As if every unlock and switch of the rollout log had happened ``days`` days ago."""
    RolloutEvent.objects.update(at=timezone.now() - dt.timedelta(days=days))
