"""Every write outcome class, produced by the real client against the sandbox over loopback HTTP.

The sandbox's answer ledger is the ground truth: it shows whether an answer was actually applied.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from markets.clients.base import get_client
from markets.clients.ratelimit import NullLimiter
from markets.clients.transport import SendState, classify_transport_error
from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA, SendOutcome
from tests.markets.conftest import coupang_config_for, fast, naver_config_for

NOW = datetime.now(UTC)
ANSWER = '안녕하세요, 고객님.\n내일 출고 예정입니다.\r\n감사합니다. "따옴표" 포함'


def _item(client, sandbox, kind, **kwargs):
    """Add one unanswered inquiry and fetch it through the client (so reply_context is real)."""
    external_id = sandbox.store.add_inquiry(kind, created_at=NOW - timedelta(hours=1), **kwargs)
    [item] = [i for i in client.list_inquiries(kind, NOW - timedelta(days=1), NOW) if i.external_id == external_id]
    return item


def _client_for(request, kind):
    return request.getfixturevalue("coupang_client" if kind.startswith("COUPANG") else "naver_client")


ALL = [COUPANG_ONLINE, COUPANG_CALLCENTER, NAVER_QNA, NAVER_INQUIRY]


@pytest.mark.parametrize("kind", ALL)
def test_post_answer__2xx__delivered_and_applied_once(request, sandbox, kind) -> None:
    client = _client_for(request, kind)
    item = _item(client, sandbox, kind)

    result = client.post_answer(kind, item.external_id, ANSWER, item.reply_context)

    assert result.outcome == SendOutcome.DELIVERED, result
    assert result.http_status in (200, 204)
    [record] = sandbox.store.answers(kind, item.external_id)
    assert record.text == ANSWER  # newlines, CR and quotes survive JSON escaping
    state = client.lookup(kind, item.external_id, item.created_at)
    assert (state.found, state.answered, state.answer_text, state.outcome_error) == (True, True, ANSWER, None)
    if kind == NAVER_INQUIRY:
        assert result.remote_ref  # inquiryCommentNo


@pytest.mark.parametrize("kind", ALL)
def test_post_answer__second_answer__already_answered_never_applied_twice(request, sandbox, kind) -> None:
    client = _client_for(request, kind)
    item = _item(client, sandbox, kind)
    assert client.post_answer(kind, item.external_id, ANSWER, item.reply_context).outcome == SendOutcome.DELIVERED

    again = client.post_answer(kind, item.external_id, "두 번째 답변", item.reply_context)

    assert again.outcome == SendOutcome.ALREADY_ANSWERED, again
    assert len(sandbox.store.answers(kind, item.external_id)) == 1


def test_naver_qna__answered_by_a_person__never_overwritten(sandbox, naver_client) -> None:
    # The Q&A answer is a PUT that overwrites; a human answer in the seller centre must survive.
    item = _item(naver_client, sandbox, NAVER_QNA)
    sandbox.store.mark_answered_elsewhere(NAVER_QNA, item.external_id, "사람이 쓴 답변")

    result = naver_client.post_answer(NAVER_QNA, item.external_id, ANSWER, item.reply_context)

    assert result.outcome == SendOutcome.ALREADY_ANSWERED
    assert sandbox.store.answer_requests[NAVER_QNA] == 0  # no PUT was even attempted
    assert sandbox.store.get_inquiry(NAVER_QNA, item.external_id)["answer"] == "사람이 쓴 답변"


def test_naver_qna__without_created_at__still_checked_before_put(sandbox, naver_client) -> None:
    item = _item(naver_client, sandbox, NAVER_QNA, answered=True)
    result = naver_client.post_answer(NAVER_QNA, item.external_id, ANSWER, {})
    assert result.outcome == SendOutcome.ALREADY_ANSWERED
    assert sandbox.store.answer_requests[NAVER_QNA] == 0


def test_naver_qna__precheck_unreachable__retryable_and_not_sent(sandbox, naver_client) -> None:
    item = _item(naver_client, sandbox, NAVER_QNA)
    sandbox.store.set_faults(down=True, scope="all")
    result = naver_client.post_answer(NAVER_QNA, item.external_id, ANSWER, item.reply_context)
    assert result.outcome == SendOutcome.FAILED_RETRYABLE
    assert sandbox.store.answer_requests[NAVER_QNA] == 0


def test_naver_qna__unknown_question__permanent_not_sent(sandbox, naver_client) -> None:
    result = naver_client.post_answer(NAVER_QNA, "999999", ANSWER, {"created_at": NOW.isoformat()})
    assert result.outcome == SendOutcome.FAILED_PERMANENT
    assert sandbox.store.answer_requests[NAVER_QNA] == 0


@pytest.mark.parametrize("kind", ALL)
def test_post_answer__server_500__unknown_and_not_applied(request, sandbox, kind) -> None:
    client = _client_for(request, kind)
    item = _item(client, sandbox, kind)
    sandbox.store.set_faults(fault_rate=1.0, scope="answers")

    result = client.post_answer(kind, item.external_id, ANSWER, item.reply_context)

    assert (result.outcome, result.http_status) == (SendOutcome.UNKNOWN, 500)
    assert sandbox.store.answers(kind) == []


@pytest.mark.parametrize("status_fault", [{"down": True}, {"lost_response": "504"}])
def test_post_answer__503_504__unknown(sandbox, coupang_client, status_fault) -> None:
    item = _item(coupang_client, sandbox, COUPANG_ONLINE)
    sandbox.store.set_faults(scope="answers", **status_fault)
    result = coupang_client.post_answer(COUPANG_ONLINE, item.external_id, ANSWER, item.reply_context)
    assert result.outcome == SendOutcome.UNKNOWN
    assert result.http_status in (503, 504)


@pytest.mark.parametrize("kind", ALL)
def test_post_answer__read_timeout__unknown_and_not_applied(request, sandbox, kind) -> None:
    client = _client_for(request, kind)
    item = _item(client, sandbox, kind)
    # The client's read timeout is 0.5 s; the sandbox holds for 1 s and never applies the answer.
    sandbox.store.set_faults(read_timeout=1.0, scope="answers")

    result = client.post_answer(kind, item.external_id, ANSWER, item.reply_context)

    assert result.outcome == SendOutcome.UNKNOWN and result.http_status is None
    assert "timeout" in result.error
    assert sandbox.store.answers(kind) == []


@pytest.mark.parametrize("kind", ALL)
def test_post_answer__connection_dropped_after_processing__unknown_but_applied(request, sandbox, kind) -> None:
    client = _client_for(request, kind)
    item = _item(client, sandbox, kind)
    sandbox.store.set_faults(lost_response="drop", lost_response_count=1)

    result = client.post_answer(kind, item.external_id, ANSWER, item.reply_context)

    # The marketplace applied it; we could not know. Reconciliation finds it:
    assert result.outcome == SendOutcome.UNKNOWN and result.http_status is None
    assert len(sandbox.store.answers(kind, item.external_id)) == 1
    state = client.lookup(kind, item.external_id, item.created_at)
    assert state.found and state.answered and state.answer_text == ANSWER


@pytest.mark.parametrize("kind", [COUPANG_ONLINE, NAVER_INQUIRY])
def test_post_answer__connection_refused__retryable_not_sent(
    sandbox, coupang_account, naver_account, closed_port, kind
) -> None:
    if kind == COUPANG_ONLINE:
        config = coupang_config_for(sandbox, coupang_account, api_base_url=f"http://127.0.0.1:{closed_port}")
    else:
        config = naver_config_for(sandbox, naver_account, api_base_url=f"http://127.0.0.1:{closed_port}/external")
    client = fast(get_client(config, NullLimiter()))

    result = client.post_answer(kind, "123", ANSWER, {"created_at": NOW.isoformat()})

    assert result.outcome == SendOutcome.FAILED_RETRYABLE
    assert "not sent" in result.error


def test_post_answer__bad_signature__auth_error(sandbox, coupang_account, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    config = coupang_config_for(sandbox, coupang_account, secret_key="0" * 40)
    client = fast(get_client(config, NullLimiter()))
    result = client.post_answer(COUPANG_ONLINE, "100001", ANSWER, {})
    assert (result.outcome, result.http_status) == (SendOutcome.AUTH_ERROR, 401)
    assert "Invalid signature" in result.error
    for text in [result.error, *(r.getMessage() for r in caplog.records)]:
        assert coupang_account.secret_key not in text and "0" * 40 not in text


def test_post_answer__naver_bad_secret__auth_error_and_nothing_sent(sandbox, naver_account, caplog) -> None:
    from markets.sandbox.accounts import generate_naver_secret

    caplog.set_level(logging.DEBUG)
    wrong = generate_naver_secret()
    client = fast(get_client(naver_config_for(sandbox, naver_account, client_secret=wrong), NullLimiter()))
    result = client.post_answer(NAVER_INQUIRY, "700000001", ANSWER, {})
    assert result.outcome == SendOutcome.AUTH_ERROR
    assert sandbox.store.answer_requests[NAVER_INQUIRY] == 0
    for text in [result.error, *(r.getMessage() for r in caplog.records)]:
        assert wrong not in text and naver_account.client_secret not in text


def test_post_answer__429__rate_limited_with_backoff_not_applied(sandbox, coupang_client) -> None:
    item = _item(coupang_client, sandbox, COUPANG_ONLINE)
    sandbox.store.set_faults(burst_429=1, scope="answers")

    result = coupang_client.post_answer(COUPANG_ONLINE, item.external_id, ANSWER, item.reply_context)

    assert (result.outcome, result.http_status) == (SendOutcome.RATE_LIMITED, 429)
    assert result.retry_after is not None and result.retry_after >= coupang_client.rate_limit_backoff_base
    assert sandbox.store.answers(COUPANG_ONLINE) == []
    # The next attempt (after the back-off the limiter enforces) goes through.
    assert coupang_client.post_answer(COUPANG_ONLINE, item.external_id, ANSWER, item.reply_context).ok


def test_post_answer__coupang_unknown_reply_by__permanent(sandbox, coupang_account) -> None:
    client = fast(get_client(coupang_config_for(sandbox, coupang_account, reply_by="nobody"), NullLimiter()))
    external_id = sandbox.store.add_inquiry(COUPANG_ONLINE)
    result = client.post_answer(COUPANG_ONLINE, external_id, ANSWER, {})
    assert (result.outcome, result.http_status) == (SendOutcome.FAILED_PERMANENT, 400)
    assert "replyBy" in result.error


def test_post_answer__unknown_inquiry__permanent(sandbox, coupang_client, naver_client) -> None:
    assert coupang_client.post_answer(COUPANG_ONLINE, "42", ANSWER, {}).outcome == SendOutcome.FAILED_PERMANENT
    assert naver_client.post_answer(NAVER_INQUIRY, "42", ANSWER, {}).outcome == SendOutcome.FAILED_PERMANENT


@pytest.mark.parametrize(
    "context",
    [
        {"inquiryStatus": "complete", "partnerTransferStatus": "requestAnswer", "parentAnswerId": "1"},
        {"inquiryStatus": "progress", "partnerTransferStatus": "answered", "parentAnswerId": "1"},
        {"inquiryStatus": "progress", "partnerTransferStatus": "requestAnswer", "parentAnswerId": None},
        {},
    ],
)
def test_callcenter__not_awaiting_answer__permanent_without_calling(sandbox, coupang_client, context) -> None:
    result = coupang_client.post_answer(COUPANG_CALLCENTER, "1015000001", ANSWER, context)
    assert result.outcome == SendOutcome.FAILED_PERMANENT and result.http_status is None
    assert sandbox.store.answer_requests[COUPANG_CALLCENTER] == 0


def test_callcenter__transfer_closed_remotely__settled_by_lookup_not_a_failure(sandbox, coupang_client) -> None:
    # Closed by Coupang since we listed it: the documented "can't be answer" 400, which the send path
    # settles by looking the inquiry up (nothing of ours was applied).
    item = _item(coupang_client, sandbox, COUPANG_CALLCENTER)
    sandbox.store.items[COUPANG_CALLCENTER][int(item.external_id)]["inquiryStatus"] = "complete"
    result = coupang_client.post_answer(COUPANG_CALLCENTER, item.external_id, ANSWER, item.reply_context)
    assert (result.outcome, result.http_status) == (SendOutcome.ALREADY_ANSWERED, 400)
    assert sandbox.store.answers(COUPANG_CALLCENTER) == []


def test_callcenter__answered_in_wing__already_answered_not_permanent(sandbox, coupang_client) -> None:
    # Coupang refuses a reply to an inquiry answered in WING with its one documented text; that is an
    # "already answered" to settle by look-up, not a permanent failure for a person.
    item = _item(coupang_client, sandbox, COUPANG_CALLCENTER)
    sandbox.store.mark_answered_elsewhere(COUPANG_CALLCENTER, item.external_id, "WING 답변")

    result = coupang_client.post_answer(COUPANG_CALLCENTER, item.external_id, ANSWER, item.reply_context)

    assert (result.outcome, result.http_status) == (SendOutcome.ALREADY_ANSWERED, 400)
    assert "The inquiry can't be answer. It can do only inquiryStatus:progress" in result.error
    assert sandbox.store.answers(COUPANG_CALLCENTER) == []
    state = coupang_client.lookup(COUPANG_CALLCENTER, item.external_id, item.created_at)
    assert (state.found, state.answered, state.answer_text) == (True, True, "WING 답변")


def test_callcenter_transfer__listed_as_answered_by_coupang_and_never_answered(sandbox, coupang_client) -> None:
    # TRANSFER: Coupang's call centre finished the consultation; the seller only confirms it.
    item = _item(coupang_client, sandbox, COUPANG_CALLCENTER, transfer=True)
    assert (item.answered, item.answer_text) == (True, None)
    assert item.reply_context["partnerTransferStatus"] == "transfer" and item.reply_context["parentAnswerId"] is None
    result = coupang_client.post_answer(COUPANG_CALLCENTER, item.external_id, ANSWER, item.reply_context)
    assert result.outcome == SendOutcome.FAILED_PERMANENT and result.http_status is None
    assert sandbox.store.answer_requests[COUPANG_CALLCENTER] == 0


@pytest.mark.parametrize("text", ["", "   ", "a\x00b", None])
def test_post_answer__invalid_text__permanent_without_calling(sandbox, coupang_client, naver_client, text) -> None:
    assert coupang_client.post_answer(COUPANG_ONLINE, "100001", text, {}).outcome == SendOutcome.FAILED_PERMANENT
    assert naver_client.post_answer(NAVER_INQUIRY, "700000001", text, {}).outcome == SendOutcome.FAILED_PERMANENT
    assert sandbox.store.stats()["answer_requests"] == 0


def test_hold_before_apply__released__delivered_once(sandbox, coupang_client) -> None:
    item = _item(coupang_client, sandbox, COUPANG_ONLINE)
    sandbox.store.set_faults(hold_answers="before_apply")
    coupang_client.config = dataclasses.replace(coupang_client.config, read_timeout=5.0)
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            coupang_client.post_answer(COUPANG_ONLINE, item.external_id, ANSWER, item.reply_context)
        )
    )
    worker.start()
    assert sandbox.store.wait_for_held(1)
    assert sandbox.store.answers(COUPANG_ONLINE) == []  # held before applying
    sandbox.store.release(apply=True)
    worker.join(5)
    assert results[0].outcome == SendOutcome.DELIVERED
    assert len(sandbox.store.answers(COUPANG_ONLINE)) == 1


def test_hold_after_apply__client_gives_up__unknown_but_applied(sandbox, naver_client) -> None:
    item = _item(naver_client, sandbox, NAVER_INQUIRY)
    sandbox.store.set_faults(hold_answers="after_apply")
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            naver_client.post_answer(NAVER_INQUIRY, item.external_id, ANSWER, item.reply_context)
        )
    )
    worker.start()
    assert sandbox.store.wait_for_held(1)
    assert len(sandbox.store.answers(NAVER_INQUIRY)) == 1  # applied, response withheld
    worker.join(5)  # the client's 0.5 s read timeout fires while held
    sandbox.store.release()
    assert results[0].outcome == SendOutcome.UNKNOWN


def test_classify_transport_error__before_vs_after_sending() -> None:
    refused = requests.exceptions.ConnectionError(
        MaxRetryError(
            None, "/x", NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
        )
    )
    dropped = requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )
    assert classify_transport_error(refused).state == SendState.NOT_SENT
    assert classify_transport_error(requests.exceptions.ConnectTimeout()).state == SendState.NOT_SENT
    assert classify_transport_error(dropped).state == SendState.UNKNOWN
    assert classify_transport_error(requests.exceptions.ReadTimeout()).state == SendState.UNKNOWN
    assert classify_transport_error(requests.exceptions.ChunkedEncodingError()).state == SendState.UNKNOWN


def test_write_after_idle__uses_a_fresh_connection(sandbox, coupang_client) -> None:
    # A keep-alive connection silently dropped while idle would make the answer's outcome unknown.
    first = _item(coupang_client, sandbox, COUPANG_ONLINE)
    second = sandbox.store.add_inquiry(COUPANG_ONLINE, created_at=NOW - timedelta(hours=1))
    assert coupang_client.post_answer(COUPANG_ONLINE, first.external_id, ANSWER, {}).ok
    coupang_client._last_io -= coupang_client.write_reconnect_after_idle + 1
    assert coupang_client.post_answer(COUPANG_ONLINE, second, ANSWER, {}).ok
    ports = [entry["client_port"] for entry in sandbox.store.request_log]
    assert ports[0] == ports[1]  # busy: the list and the first answer share a warm connection
    assert ports[2] != ports[1]  # idle: the second answer went out on a new one
