"""Deciding with several processors at once, proven on PostgreSQL with real processes and connections.

decide_new claims the rows of each batch (advisory try-locks: rows another processor holds are skipped)
and writes a batch with one conditional UPDATE; these tests check what that must never break.
"""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from django.db import connection, connections
from django.db.models import Count

import policy.decide as decide
import policy.decide_claims as decide_claims
import policy.decide_writes as decide_writes
from inquiries.models import Inquiry, InquiryEvent
from policy.decide import decide_new
from policy.models import AccountRollout, Mode
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account, make_inquiry, make_shipping_policy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A routine shipping question the accounts' shipping policy answers (no order named).
SHIPPING = "오늘 주문하면 언제 받을 수 있을까요?"
RISKY = "답변 안 주시면 소비자원에 신고하겠습니다. 배송 언제 와요?"
REFUND = "무통장입금으로 결제했는데 환불은 어디로 받아요?"


@pytest.fixture
def accounts():
    """A LIVE account without quota, a LIVE account with a daily quota of 5, a shadow account."""
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    free = make_account("coupang_main")
    quota = make_account("smartstore", market="SMARTSTORE")
    shadow = make_account("coupang_shadow")
    for account in (free, quota, shadow):
        make_shipping_policy(account)
    rollout_unlock(account=free, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    rollout_unlock(account=quota, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    AccountRollout.objects.filter(account=quota).update(quota_override=5)
    return free, quota, shadow


def _decided_events_per_inquiry() -> dict[int, int]:
    return dict(InquiryEvent.objects.filter(type="DECIDED").values_list("inquiry_id").annotate(n=Count("id")))


def _worker(barrier, results, batch_size):
    try:
        barrier.wait()
        summary = decide_new(batch_size=batch_size)
        results.put((summary.decided, summary.errors, summary.auto_send))
    finally:
        connections.close_all()


def _advisory_locks() -> list:
    """Decision claims held by anyone in this database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classid, objid, pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
            "AND classid IN (%s, %s) AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [decide_claims._ROW_CLAIM, decide_claims._ACCOUNT_CLAIM],
        )
        return cursor.fetchall()


def _other_session():
    """A database session of its own (another processor), autocommit."""
    conn = connection.get_new_connection(connection.get_connection_params())
    conn.autocommit = True
    return conn


def test_two_processors_same_new_rows__each_decided_exactly_once(accounts):
    free, quota, shadow = accounts
    texts = (SHIPPING, RISKY, REFUND, SHIPPING)
    for n in range(90):
        make_inquiry(free, content=texts[n % 4])
        make_inquiry(quota, content=SHIPPING)
        make_inquiry(shadow, content=texts[n % 4])
    total = Inquiry.objects.count()

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(barrier, results, 15)) for _ in range(2)]
    for p in procs:
        p.start()
    summaries = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0

    assert sum(decided for decided, _e, _a in summaries) == total
    assert all(errors == 0 for _d, errors, _a in summaries)
    assert not Inquiry.objects.filter(status="NEW").exists()
    per_inquiry = _decided_events_per_inquiry()
    assert len(per_inquiry) == total and set(per_inquiry.values()) == {1}
    # The quota gate saw every decision for the quota account, whichever processor made them.
    assert Inquiry.objects.filter(account=quota, status="AUTO_SEND").count() == 5
    assert Inquiry.objects.filter(account=quota, decision_reason__contains="일일 한도").count() == 85
    # No claim outlives the runs.
    assert not _advisory_locks()


def test_rows_claimed_by_another_processor__skipped_until_released(accounts):
    free, _quota, _shadow = accounts
    inquiries = [make_inquiry(free, content=SHIPPING) for _ in range(5)]
    held = [inquiries[1].pk, inquiries[3].pk]
    other = _other_session()
    try:
        for pk in held:
            other.execute("SELECT pg_advisory_lock(%s, %s)", [decide_claims._ROW_CLAIM, pk % decide_claims._INT4_SPAN])
        summary = decide_new(batch_size=2)
        assert summary.decided == 3
        assert set(Inquiry.objects.filter(status="NEW").values_list("pk", flat=True)) == set(held)
    finally:
        other.close()  # the other processor ends: its claims go with its session
    assert decide_new().decided == 2
    assert set(_decided_events_per_inquiry().values()) == {1} and len(_decided_events_per_inquiry()) == 5


def test_quota_account_held_by_another_processor__left_to_it(accounts):
    free, quota, _shadow = accounts
    for _ in range(3):
        make_inquiry(free, content=SHIPPING)
        make_inquiry(quota, content=SHIPPING)
    other = _other_session()
    try:
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)", [decide_claims._ACCOUNT_CLAIM, decide_claims._account_key(quota.pk)]
        )
        assert decide_new().decided == 3
        assert Inquiry.objects.filter(account=quota, status="NEW").count() == 3
    finally:
        other.close()
    summary = decide_new()
    assert summary.decided == 3 and summary.auto_send == 3
    assert not Inquiry.objects.filter(status="NEW").exists()


def test_row_changed_by_another_connection_between_read_and_write__not_overwritten(accounts, monkeypatch):
    free, _quota, _shadow = accounts
    inquiries = [make_inquiry(free, content=SHIPPING) for _ in range(4)]
    target = inquiries[2]
    prepare = decide._prepare

    def close_elsewhere():
        try:
            Inquiry.objects.filter(pk=target.pk, status="NEW").update(status="CLOSED")  # its own connection, committed
        finally:
            connections.close_all()

    def prepare_then_close(inquiry, **kwargs):
        decision = prepare(inquiry, **kwargs)
        if inquiry.pk == target.pk:
            thread = threading.Thread(target=close_elsewhere)
            thread.start()
            thread.join()
        return decision

    monkeypatch.setattr(decide, "_prepare", prepare_then_close)
    summary = decide_new()
    assert summary.decided == 3 and summary.errors == 0
    target.refresh_from_db()
    assert target.status == "CLOSED" and target.decided_at is None and target.draft_answer == ""
    assert not target.events.filter(type="DECIDED").exists()
    assert Inquiry.objects.filter(status="AUTO_SEND").count() == 3


def test_claims_released_when_a_batch_fails(accounts, monkeypatch):
    free, quota, _shadow = accounts
    make_inquiry(free, content=SHIPPING)
    make_inquiry(quota, content=SHIPPING)

    def broken(_decisions, _summary):
        raise RuntimeError("boom")

    monkeypatch.setattr(decide, "_write_all", broken)
    with pytest.raises(RuntimeError):
        decide_new()
    assert not _advisory_locks()
    assert Inquiry.objects.filter(status="NEW").count() == 2


def test_batched_write__same_rows_and_events_as_the_orm_path(accounts):
    """The one-statement PostgreSQL write stores exactly what the ORM's per-row UPDATE stores."""
    import datetime as dt

    from policy.controls import load_account_controls
    from policy.hours import SEOUL

    free, _quota, _shadow = accounts
    settings_update(actor=SYSTEM, hours="mon-fri 09:00-18:00")
    controls = load_account_controls(free)
    saturday = dt.datetime(2026, 11, 28, 11, 30, 15, 123456, tzinfo=SEOUL)  # AUTO_SEND deferred to Monday
    texts = (
        SHIPPING,
        RISKY,
        REFUND,
        "ㅎㅎ",
        '사이즈 교환하고 싶은데 반품 배송비는 얼마인가요? "따옴표" \\ 백슬래시 😀',
    )
    pairs = [
        (
            make_inquiry(free, content=t, title="제목", product_name="상품 {x}"),
            make_inquiry(free, content=t, title="제목", product_name="상품 {x}"),
        )
        for t in texts
    ]
    orm = [decide._prepare(a, controls=controls, now=saturday, used=0) for a, _b in pairs]
    pg = [decide._prepare(b, controls=controls, now=saturday, used=0) for _a, b in pairs]
    assert decide_writes._write_orm(orm) == {a.pk for a, _b in pairs}
    assert decide_writes._write_pg(pg) == {b.pk for _a, b in pairs}

    event_columns = [f.attname for f in InquiryEvent._meta.concrete_fields if f.attname not in ("id", "inquiry_id")]
    for inquiry, built in [
        *zip([a for a, _b in pairs], orm, strict=True),
        *zip([b for _a, b in pairs], pg, strict=True),
    ]:
        inquiry.refresh_from_db()
        # Every decision field reads back exactly as decided (JSON documents, floats, timestamps) …
        assert {f: getattr(inquiry, f) for f in decide_writes.DECISION_FIELDS} == built.fields
        # … and the events too, in order.
        stored = list(inquiry.events.exclude(type="INGESTED").order_by("id"))
        assert [[getattr(e, c) for c in event_columns] for e in stored] == [
            [e[c] for c in event_columns] for e in built.events
        ]
    assert [o.fields["status"] for o in orm] == [d.fields["status"] for d in pg]
    # The cases the comparison must cover: a deferred AUTO_SEND (with its DEFERRED event) and a person's case.
    deferred = InquiryEvent.objects.filter(type="DEFERRED")
    assert (
        deferred.filter(inquiry__in=[b for _a, b in pairs]).count()
        == deferred.filter(inquiry__in=[a for a, _b in pairs]).count()
        > 0
    )
    assert {d.fields["status"] for d in pg} == {"AUTO_SEND", "HUMAN_REVIEW"}
    assert all(b.next_attempt_at for (_a, b), d in zip(pairs, pg, strict=True) if d.sendable)
