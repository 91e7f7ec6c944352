"""The sandbox marketplace itself: it must reject what the real gateways reject, exactly.

Here: unknown paths, faults, held answers, the control API and the management command; the Coupang and
Naver routes are tested in ``test_sandbox_coupang.py`` and ``test_sandbox_naver.py``.
"""

from __future__ import annotations

import signal
import time

import pytest
import requests

from markets.clients.types import COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox import SandboxControl, SandboxControlError
from markets.sandbox.accounts import DEMO_NAVER, generate_naver_secret
from markets.sandbox.generator import RISKY
from markets.sandbox.store import SandboxStore
from tests.markets.sandbox_requests import V4, V5, _coupang_get, _coupang_post, _list_query, sandbox_command


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def test_unknown_path__404(http, sandbox) -> None:
    assert http.get(sandbox.url + "/nope", timeout=5).status_code == 404
    assert http.get(sandbox.naver_base_url + "/v1/nope", timeout=5).json()["code"] == "GW.NOT_FOUND"


# --- faults, ledger, control API --------------------------------------------------------------------


def test_faults__scope_answers_leaves_reads_alone(http, sandbox, coupang_account) -> None:
    sandbox.store.set_faults(down=True, scope="answers")
    path = f"{V5}/{coupang_account.vendor_id}/onlineInquiries"
    assert _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id)).status_code == 200
    sandbox.store.set_faults(scope="all")
    assert _coupang_get(http, sandbox, coupang_account, path, _list_query(coupang_account.vendor_id)).status_code == 503


def test_faults__invalid_values_rejected() -> None:
    store = SandboxStore()
    for bad in ({"nope": 1}, {"fault_rate": 2}, {"lost_response": "maybe"}, {"down": "yes"}, {"latency_ms": -1}):
        with pytest.raises(ValueError):
            store.set_faults(**bad)


def test_hold_released_without_apply__not_applied(http, sandbox, coupang_account) -> None:
    import threading

    sandbox.store.set_faults(hold_answers="before_apply")
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    payload = {"content": "답변", "vendorId": coupang_account.vendor_id, "replyBy": "cs-agent"}
    path = f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies"
    statuses = []
    thread = threading.Thread(
        target=lambda: statuses.append(_coupang_post(requests, sandbox, coupang_account, path, payload).status_code)
    )
    thread.start()
    assert sandbox.store.wait_for_held(1)
    assert sandbox.store.release(apply=False) == 1
    thread.join(5)
    assert statuses == [503] and sandbox.store.answers() == []


def test_control_api__round_trip_from_another_process_view(sandbox) -> None:
    control = SandboxControl(sandbox.url)
    assert control.health()
    coupang = control.add_coupang_account(vendor_id="A12121212")
    naver = control.add_naver_account()
    assert coupang["vendor_id"] == "A12121212" and naver["client_secret"].startswith("$2b$04$")
    ids = control.add_inquiries(COUPANG_ONLINE, 5, owner="A12121212", answered_ratio=0)
    explicit = control.add_inquiries(
        NAVER_INQUIRY, items=[{"content": "언제 와요?", "title": "배송", "created_at": "2025-05-05T10:00:00+09:00"}]
    )
    assert len(ids) == 5 and len(explicit) == 1
    assert control.inquiry(NAVER_INQUIRY, explicit[0])["inquiryContent"] == "언제 와요?"
    assert len(control.inquiries(COUPANG_ONLINE)) == 5
    assert control.set_faults(latency_ms=5)["latency_ms"] == 5
    with pytest.raises(SandboxControlError):
        control.set_faults(unknown_fault=1)
    control.answer_elsewhere(NAVER_INQUIRY, explicit[0], "사람 답변")
    assert control.inquiry(NAVER_INQUIRY, explicit[0])["answered"] is True
    assert control.answers() == []  # not via the API: no ledger entry
    assert control.stats()["inquiries"][COUPANG_ONLINE] == 5
    assert control.reset_faults()["latency_ms"] == 0
    assert control.expire_naver_tokens() == 0
    control.reset()
    assert control.stats()["inquiries"][COUPANG_ONLINE] == 0
    assert len(control.accounts()["coupang"]) == 1  # accounts survive a reset


def test_control_api__bad_input__400(http, sandbox) -> None:
    assert http.post(sandbox.control_url + "/inquiries", json={"kind": "NOPE"}, timeout=5).status_code == 400
    assert http.post(sandbox.control_url + "/inquiries", data=b"{not json", timeout=5).status_code == 400
    assert (
        http.post(sandbox.control_url + "/inquiries", json={"kind": COUPANG_ONLINE}, timeout=5).status_code == 400
    )  # no account
    assert (
        http.post(
            sandbox.control_url + "/accounts", json={"market": "NAVER", "client_secret": "plain"}, timeout=5
        ).status_code
        == 400
    )


def test_generated_data__realistic_korean_with_risky_and_answered_items() -> None:
    store = SandboxStore(seed=7)
    store.register_demo_accounts()
    store.add_inquiries(NAVER_QNA, 200, answered_ratio=0.25, risk_ratio=0.1)
    items = store.list_items(NAVER_QNA)
    risky_texts = {text for _intent, _title, text in RISKY}
    assert any(item["question"] in risky_texts for item in items)
    assert 20 < sum(item["answered"] for item in items) < 80
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in item["question"]) for item in items)  # Hangul


def test_generate_naver_secret__valid_and_random() -> None:
    import bcrypt

    first, second = generate_naver_secret(), generate_naver_secret()
    assert first != second and len(first) == 29
    bcrypt.hashpw(b"x", first.encode())
    bcrypt.hashpw(b"x", DEMO_NAVER["client_secret"].encode())


def test_stop__wakes_held_requests_and_closes_connections(sandbox, coupang_account) -> None:
    import threading

    sandbox.store.set_faults(hold_answers="before_apply")
    inquiry = sandbox.store.add_inquiry(COUPANG_ONLINE)
    path = f"{V4}/{coupang_account.vendor_id}/onlineInquiries/{inquiry}/replies"
    payload = {"content": "답변", "vendorId": coupang_account.vendor_id, "replyBy": "cs-agent"}
    thread = threading.Thread(target=lambda: _safe_post(sandbox, coupang_account, path, payload))
    thread.start()
    assert sandbox.store.wait_for_held(1)
    started = time.monotonic()
    sandbox.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 3
    assert sandbox.store.answers() == []


def _safe_post(sandbox, account, path, payload) -> None:
    try:
        _coupang_post(requests, sandbox, account, path, payload)
    except requests.RequestException:
        pass


# --- the management command ---------------------------------------------------------------------------


def test_market_sandbox_command__bad_flags__clear_error() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="fault-rate"):
        call_command("market_sandbox", "--fault-rate", "2")
    with pytest.raises(CommandError, match="port"):
        call_command("market_sandbox", "--port", "70000")


def test_market_sandbox_command__serves_prints_credentials_and_stops_on_ctrl_c(tmp_path) -> None:
    with sandbox_command("--seed-inquiries", "4", "--latency-ms", "1") as (process, output):
        assert "listening on http://127.0.0.1:" in output, output
        url = output.split("listening on ")[1].split()[0]
        assert "SANDBOX-ONLY" in output and "--vendor-id A00000001" in output and "--client-id" in output
        stats = SandboxControl(url).stats()
        assert stats["inquiries"][COUPANG_ONLINE] == 4
        assert SandboxControl(url).faults()["latency_ms"] == 1
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=15)
    assert process.returncode == 0, rest
    assert "Sandbox stopped" in rest
