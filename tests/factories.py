"""Plain factory functions for tests (no extra dependency)."""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from inquiries.models import Inquiry
from markets import services as market_services
from markets.models import MarketAccount

_seq = itertools.count(1)

SECRET_VALUES = {
    "access_key": "AK-test-0f2b9d1c-visible-nowhere",
    "secret_key": "SK-test-6a7e3c55b1d04e8f9a0b1c2d3e4f5a6b7c8d9e0f",
    "client_secret": "$2b$04$abcdefghijklmnopqrstuu",
}


def make_account(name: str | None = None, market: str = "COUPANG", **kwargs) -> MarketAccount:
    name = name or f"acct_{next(_seq)}"
    if market == "COUPANG":
        defaults = dict(
            vendor_id="A00012345",
            access_key=SECRET_VALUES["access_key"],
            secret_key=SECRET_VALUES["secret_key"],
            reply_by="wingid",
        )
    else:
        defaults = dict(client_id=f"client-{name}", client_secret=SECRET_VALUES["client_secret"])
    defaults.update(kwargs)
    return market_services.account_create(name=name, market_code=market, **defaults)


def make_inquiry(account: MarketAccount, *, created_at: datetime | None = None, **fields) -> Inquiry:
    kind = fields.pop("kind", "COUPANG_ONLINE" if account.market_code == "COUPANG" else "NAVER_QNA")
    return Inquiry.objects.create(
        account=account,
        market_code=account.market_code,
        kind=kind,
        external_id=fields.pop("external_id", str(next(_seq))),
        created_at=created_at or timezone.now() - timedelta(minutes=5),
        content=fields.pop("content", "배송 언제 되나요?"),
        **fields,
    )


# docs/examples/shipping-policy.json's values, shared by the stored policy below and the agent's plain
# facts (tests/inquiries/agent_context.py).
EXAMPLE_SHIPPING = dict(
    dispatch_cutoff=dt.time(14, 0),
    dispatch_lead_days=0,
    transit_days_min=1,
    transit_days_max=2,
    base_fee=3000,
    free_shipping_threshold=30000,
    jeju_surcharge=3000,
    remote_surcharge=5000,
    return_fee=3000,
    exchange_fee=6000,
    return_address="경기도 파주시 물류로 1 행복상점 반품센터",
)


def make_shipping_policy(account: MarketAccount, **changes):
    """A complete shipping policy for ``account`` (the values of docs/examples/shipping-policy.json)."""
    from markets.models import ShippingPolicy

    values = {**EXAMPLE_SHIPPING, "carrier_code": "CJGLS", **changes}
    policy, _created = ShippingPolicy.objects.update_or_create(account=account, defaults=values)
    return policy


EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"  # the sample files of the sandbox catalogue


def make_staff(django_user_model, name: str, role: str | None = None):
    """A staff user in the ``role`` group (none: no permissions), read back so its permission cache is fresh."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(name, password="pw-123456-long", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return django_user_model.objects.get(pk=user.pk)
