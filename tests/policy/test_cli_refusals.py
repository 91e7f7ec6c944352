"""Commands refuse, with a Korean message and no traceback, what they would otherwise record empty or
fail on; their tables line Korean up by display width."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from partialauto.cli import display_width, table
from policy.models import RolloutEvent
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def test_unlock_without_reason__refused_and_not_recorded():
    make_account("coupang_main")
    with pytest.raises(CommandError, match="사유가 필요합니다"):
        call_command("rollout", "unlock", "coupang_main", "--mode", "TEST", stdout=io.StringIO())
    assert not RolloutEvent.objects.filter(action=RolloutEvent.Action.UNLOCK).exists()


def test_settings_without_options__refused_and_not_recorded():
    before = RolloutEvent.objects.count()
    with pytest.raises(CommandError, match="바꿀 설정이 없습니다"):
        call_command("rollout", "settings", "--reason", "아무것도 안 바꿈", stdout=io.StringIO())
    with pytest.raises(CommandError, match="바꿀 설정이 없습니다"):
        call_command("rollout", "settings", stdout=io.StringIO())
    assert RolloutEvent.objects.count() == before


def test_simulate_policy_threshold_out_of_range__clean_refusal():
    make_account("coupang_main")
    with pytest.raises(CommandError, match="0과 1 사이"):
        call_command("simulate_policy", "--since", "7d", "--threshold", "1.5", stdout=io.StringIO())


def test_rollout_status__korean_table_aligned_by_display_width():
    make_account("coupang_main")
    make_account("smartstore", market="SMARTSTORE")
    out = io.StringIO()
    call_command("rollout", "status", stdout=out)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("계정"))
    header, rule, *rows = lines[start:]
    assert "부분 자동화:" in out.getvalue() and "partial-auto" not in out.getvalue()
    assert display_width(rule) == display_width(header)
    column = display_width(header[: header.index("마켓")])
    for row in rows:  # the market column starts at the same terminal column on every row
        assert display_width(row[: row.index("COUPANG" if "COUPANG" in row else "SMARTSTORE")]) == column


def test_table__wide_characters_count_two():
    lines = table(["의도", "n"], [["배송문의", 1], ["abc", 22]], right=(1,))
    assert [display_width(line) for line in lines[2:]] == [display_width(lines[0])] * 2
