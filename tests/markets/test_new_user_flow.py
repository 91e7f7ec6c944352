"""As a new user would: start `market_sandbox --seed-inquiries 50`, register a Coupang and a SmartStore
account pointing at it, run `poll_markets` — everything arrives once, a second run adds nothing;
inquiries that appear late (asked days before they became visible) arrive with `poll_markets --sweep`,
once; and a run while the sandbox is down fails with a clear message per account and loses nothing."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries.models import Inquiry, InquiryEvent
from markets.models import PollCursor
from markets.sandbox.control import SandboxControl
from tests.markets.sandbox_process import flags_for, running_sandbox

pytestmark = pytest.mark.django_db

LATE = 40  # late inquiries of each kind


@pytest.fixture
def sandbox_process():
    with running_sandbox("--seed-inquiries", "50") as running:
        yield running


def test_new_user__poll_sandbox_once_twice_and_while_down(sandbox_process):
    proc, output, url = sandbox_process
    out = io.StringIO()
    call_command(
        "market_account",
        "add",
        "--name",
        "coupang_main",
        "--market",
        "COUPANG",
        *flags_for(output, "COUPANG"),
        stdout=out,
    )
    call_command(
        "market_account",
        "add",
        "--name",
        "smartstore",
        "--market",
        "SMARTSTORE",
        *flags_for(output, "SMARTSTORE"),
        stdout=out,
    )
    listing = io.StringIO()
    call_command("market_account", "list", stdout=listing)
    assert "coupang_main" in listing.getvalue() and "sandbox0coupang0secret" not in listing.getvalue()

    kinds = ("COUPANG_ONLINE", "COUPANG_CALLCENTER", "NAVER_QNA", "NAVER_INQUIRY")
    expected = sum(len(SandboxControl(url).inquiries(kind)) for kind in kinds)  # 50 of each kind

    first = io.StringIO()
    call_command("poll_markets", stdout=first)
    assert Inquiry.objects.count() == expected == 200
    assert "coupang_main: 조회 100건, 새 문의 100건" in first.getvalue()
    answered = Inquiry.objects.filter(status="ANSWERED_ELSEWHERE").count()
    assert 0 < answered < 200  # about 20 % were answered on the marketplace already
    assert InquiryEvent.objects.filter(type="INGESTED").count() == 200

    second = io.StringIO()
    call_command("poll_markets", stdout=second)
    assert Inquiry.objects.count() == 200
    assert "새 문의 0건" in second.getvalue() and "새 문의 100건" not in second.getvalue()

    # Inquiries that become visible only now although they were asked days ago (a call-center inquiry
    # transferred late, an item indexed late): older than the watermark's overlap, so the incremental
    # poll never asks for them; the sweep of unanswered items does.
    control = SandboxControl(url)
    late = {
        kind: set(control.add_backdated_inquiries(kind, LATE, oldest=timedelta(days=25), newest=timedelta(days=2)))
        for kind in kinds
    }
    incremental = io.StringIO()
    call_command("poll_markets", stdout=incremental)
    assert Inquiry.objects.count() == 200 and "새 문의 0건" in incremental.getvalue()

    swept = io.StringIO()
    call_command("poll_markets", "--sweep", stdout=swept)
    for kind in kinds:
        stored = set(
            Inquiry.objects.filter(kind=kind, external_id__in=late[kind]).values_list("external_id", flat=True)
        )
        assert stored == late[kind], f"{kind}: {len(late[kind] - stored)} of {LATE} late inquiries never arrived"
    assert Inquiry.objects.count() == 200 + 4 * LATE
    assert Inquiry.objects.filter(external_id__in=set().union(*late.values()), status="NEW").count() == 4 * LATE
    assert (
        len(re.findall(r": 조회 \d+건, 새 문의 0건,", swept.getvalue())) == 2
    )  # the incremental part found nothing new …
    assert swept.getvalue().count(f"새 문의 {2 * LATE}건") == 2  # … the sweep found every late one of both accounts
    cursors = PollCursor.objects.all()
    assert len(cursors) == 4 and all(
        c.last_swept_at and c.last_sweep_success_at and not c.last_sweep_error for c in cursors
    )
    assert {c.kind: c.last_sweep_found for c in cursors} == dict.fromkeys(kinds, LATE)

    again = io.StringIO()
    call_command("poll_markets", "--sweep", stdout=again)
    assert Inquiry.objects.count() == 200 + 4 * LATE  # never a duplicate
    assert InquiryEvent.objects.filter(type="INGESTED").count() == 200 + 4 * LATE
    assert again.getvalue().count("미답변 재수집: 조회") == 2 and again.getvalue().count("새 문의 0건") == 4
    assert all(c.last_sweep_found == 0 for c in PollCursor.objects.all())

    watermarks = dict(PollCursor.objects.values_list("kind", "watermark"))
    proc.terminate()
    proc.wait(10)
    down = io.StringIO()
    with pytest.raises(CommandError, match="계정 2개 중 2개 실패"):
        call_command("poll_markets", stdout=down)
    text = down.getvalue()
    assert "coupang_main" in text and "smartstore" in text and text.count("실패: ") == 2
    assert Inquiry.objects.count() == 200 + 4 * LATE  # nothing lost
    assert dict(PollCursor.objects.values_list("kind", "watermark")) == watermarks  # nothing skipped next time
    assert all(c.last_error for c in PollCursor.objects.all())
