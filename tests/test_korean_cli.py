"""Command output and help for people are Korean (the active language), tables aligned by display width;
``--format json`` stays machine-readable."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command, load_command_class

from partialauto.cli import display_width
from tests.factories import make_account

pytestmark = pytest.mark.django_db

COMMANDS = {
    "kpi": "policy",
    "readiness": "policy",
    "market_account": "markets",
    "poll_markets": "inquiries",
    "send_due": "policy",
    "reconcile": "policy",
    "process_inquiries": "policy",
    "train_agent": "inquiries",
    "evaluate_agent": "policy",
    "sync_orders": "markets",
    "shipping_policy": "markets",
    "product_knowledge": "inquiries",
    "setup_schedules": "policy",
    "rollout": "policy",
    "monitor": "policy",
    "simulate_policy": "policy",
}
DJANGO_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}
HANGUL = re.compile(r"[가-힣]")


def helps(parser) -> list[tuple[str, str]]:
    """(where, text) of the parser's description and of every option and sub-command it has, ours only."""
    found = [("description", parser.description or "")]
    for action in parser._actions:
        if action.dest in DJANGO_OPTIONS:
            continue
        if action.help:
            found.append((action.dest, str(action.help)))
        for choice in getattr(action, "_choices_actions", []):
            found.append((choice.dest, str(choice.help or "")))
        if isinstance(action.choices, dict):  # sub-commands
            for name, sub in action.choices.items():
                found += [(f"{name} {where}", text) for where, text in helps(sub)[1:]]
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_help__korean(name):
    parser = load_command_class(COMMANDS[name], name).create_parser("manage.py", name)
    english = [(where, text) for where, text in helps(parser) if text and not HANGUL.search(text)]
    assert not english, english
    parser.format_help()  # every text is a string argparse can wrap


def test_market_account_list__korean_table_aligned():
    make_account("coupang_main")
    make_account("smartstore", market="SMARTSTORE")
    out = io.StringIO()
    call_command("market_account", "list", stdout=out)
    header, rule, *rows = out.getvalue().splitlines()
    assert header.startswith("이름") and "인증정보" in header and "섀도 (판정만)" in rows[0]
    assert display_width(header[: header.index("마켓")]) == display_width(rows[1][: rows[1].index("SMARTSTORE")])


def test_send_due_reconcile_setup_schedules__korean():
    out = io.StringIO()
    call_command("send_due", stdout=out)
    call_command("reconcile", stdout=out)
    call_command("setup_schedules", stdout=out)
    text = out.getvalue()
    assert "처리 0건: 보낼 차례인 답변 없음" in text and "확인 0건: 정리할 건 없음" in text
    assert "partialauto.monitor: 만듦" in text


def test_unknown_account__named_in_korean():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="알 수 없는 계정입니다: nope"):
        call_command("poll_markets", "--account", "nope", stdout=io.StringIO())


def test_kpi_json__machine_readable_and_unchanged_keys():
    out = io.StringIO()
    call_command("kpi", "--format", "json", stdout=out)
    assert {"send_attempts", "shadow_stats_7d", "failure_rates", "quota_today"} <= set(json.loads(out.getvalue()))
