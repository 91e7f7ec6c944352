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


def test_operations_guide__shows_the_refusals_the_command_prints_for_a_locked_account():
    """The guide's re-unlock example (4.4) is what `rollout unlock` really says, word for word."""
    import re
    from pathlib import Path

    from django.utils import timezone

    from policy.models import AccountRollout, Mode

    account = make_account("coupang_main")
    lock_reason = "롤백 규칙 '동일 계정에서 연속 3건 실패' 발동: 연속 전송 실패 3건 (사고 1)"
    AccountRollout.objects.filter(account=account).update(
        mode=Mode.SHADOW, locked_at=timezone.now(), lock_reason=lock_reason
    )
    guide = Path(__file__).resolve().parents[2].joinpath("docs", "operations-guide.ko.md").read_text(encoding="utf-8")
    said = []
    for args in (["--mode", "LIVE"], ["--mode", "LIVE", "--reason", "마켓 장애 복구 확인"]):
        with pytest.raises(CommandError) as refused:
            call_command("rollout", "unlock", "coupang_main", *args, stdout=io.StringIO())
        said.append(str(refused.value))
        shown = (
            f"$ python manage.py rollout unlock coupang_main "
            f"{' '.join(a if ' ' not in a else repr(a).replace(chr(39), chr(34)) for a in args)}"
        )
        assert f"{shown}\nCommandError: {said[-1]}\n" in guide, said[-1]
    assert re.search("사유", said[0]) and lock_reason in said[1]
    assert not AccountRollout.objects.get(account=account).mode == Mode.LIVE


def test_settings_test_mode_off__says_which_live_accounts_start_real_sends():
    from policy.models import AccountRollout, AutomationSettings, Mode

    account = make_account("coupang_main")
    AccountRollout.objects.filter(account=account).update(mode=Mode.LIVE)
    AutomationSettings.objects.update_or_create(pk=1, defaults={"test_mode": True, "partial_auto_enabled": True})
    out = io.StringIO()
    call_command("rollout", "settings", "--test-mode", "off", "--reason", "테스트 완료", stdout=out)
    text = out.getvalue()
    assert "전역 테스트 모드를 끕니다" in text and "LIVE 계정 1개가 실제 전송을 시작합니다: coupang_main" in text
    event = RolloutEvent.objects.filter(action=RolloutEvent.Action.SETTINGS).latest("at")
    assert event.reason == "테스트 완료" and event.data["after"]["test_mode"] is False
