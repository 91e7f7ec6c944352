"""Agent contexts and facts for tests: the seed data (inquiries/agent/seed_data.py), compiled once, and the
example shipping policy (docs/examples/shipping-policy.json's values) as plain facts."""

from __future__ import annotations

import datetime as dt

from inquiries.agent.context import seed_context
from inquiries.agent.facts import InquiryFacts, ShippingFacts
from tests.factories import EXAMPLE_SHIPPING

__all__ = ["policy_facts", "example_policy", "seed_context"]


def example_policy(**changes) -> ShippingFacts:
    values = dict(
        account_id="test-account",
        complete=True,
        **EXAMPLE_SHIPPING,
        carrier_name="CJ대한통운",
        updated_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    )
    values.update(changes)
    return ShippingFacts(**values)


def policy_facts(now: dt.datetime | None = None, **changes) -> InquiryFacts:
    """Facts with the shipping policy only (no order, no product): what a routine shipping question
    without an order is answered from."""
    return InquiryFacts(now=now or dt.datetime.now(dt.UTC), shipping=example_policy(**changes))
