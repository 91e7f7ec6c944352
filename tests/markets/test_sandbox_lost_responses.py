"""The sandbox can lose a share of the answers' responses (the answer applied, the reply lost), drawn per
answer: what the fault run uses to check that unknown outcomes settle as delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from markets.clients.types import COUPANG_ONLINE, SendOutcome

NOW = datetime.now(UTC)


def test_lost_response_rate__a_share_of_answers_applied_but_unanswered(sandbox, coupang_client) -> None:
    ids = [sandbox.store.add_inquiry(COUPANG_ONLINE, created_at=NOW - timedelta(hours=1)) for _ in range(40)]
    items = {i.external_id: i for i in coupang_client.list_inquiries(COUPANG_ONLINE, NOW - timedelta(days=1), NOW)}
    sandbox.store.set_faults(scope="answers", lost_response="drop", lost_response_rate=0.3)

    outcomes = [
        coupang_client.post_answer(COUPANG_ONLINE, i, "곧 출고됩니다.", items[i].reply_context).outcome for i in ids
    ]

    lost = outcomes.count(SendOutcome.UNKNOWN)
    assert 0 < lost < 40 and lost + outcomes.count(SendOutcome.DELIVERED) == 40
    assert all(len(sandbox.store.answers(COUPANG_ONLINE, i)) == 1 for i in ids)  # every answer applied, once


def test_lost_response_rate__out_of_range__refused(sandbox) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        sandbox.store.set_faults(lost_response_rate=1.5)
