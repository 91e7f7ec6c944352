"""As a new user would: start `market_sandbox --seed-inquiries 50`, register a Coupang and a SmartStore
account pointing at it, run `poll_markets` — everything arrives once, a second run adds nothing, and a
run while the sandbox is down fails with a clear message per account and loses nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import Inquiry, InquiryEvent
from markets.models import PollCursor
from markets.sandbox.control import SandboxControl
from tests.markets.sandbox_process import flags_for, running_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_process():
    with running_sandbox("--seed-inquiries", "50") as running:
        yield running


def test_new_user__poll_sandbox_once_twice_and_while_down(sandbox_process):
    proc, output, url = sandbox_process
    out = io.StringIO()
    call_command("market_account", "add", "--name", "coupang_main", "--market", "COUPANG", *flags_for(output, "COUPANG"), stdout=out)
    call_command("market_account", "add", "--name", "smartstore", "--market", "SMARTSTORE", *flags_for(output, "SMARTSTORE"), stdout=out)
    listing = io.StringIO()
    call_command("market_account", "list", stdout=listing)
    assert "coupang_main" in listing.getvalue() and "sandbox0coupang0secret" not in listing.getvalue()

    kinds = ("COUPANG_ONLINE", "COUPANG_CALLCENTER", "NAVER_QNA", "NAVER_INQUIRY")
    expected = sum(len(SandboxControl(url).inquiries(kind)) for kind in kinds)  # 50 of each kind

    first = io.StringIO()
    call_command("poll_markets", stdout=first)
    assert Inquiry.objects.count() == expected == 200
    assert "coupang_main: fetched 100, new 100" in first.getvalue()
    answered = Inquiry.objects.filter(status="ANSWERED_ELSEWHERE").count()
    assert 0 < answered < 200  # about 20 % were answered on the marketplace already
    assert InquiryEvent.objects.filter(type="INGESTED").count() == 200

    second = io.StringIO()
    call_command("poll_markets", stdout=second)
    assert Inquiry.objects.count() == 200
    assert "new 0" in second.getvalue() and "new 100" not in second.getvalue()

    watermarks = dict(PollCursor.objects.values_list("kind", "watermark"))
    proc.terminate()
    proc.wait(10)
    down = io.StringIO()
    with pytest.raises(CommandError, match="2 of 2 account"):
        call_command("poll_markets", stdout=down)
    text = down.getvalue()
    assert "coupang_main" in text and "smartstore" in text and text.count("FAILED") == 2
    assert Inquiry.objects.count() == 200  # nothing lost
    assert dict(PollCursor.objects.values_list("kind", "watermark")) == watermarks  # nothing skipped next time
    assert all(c.last_error for c in PollCursor.objects.all())
