"""Which NEW rows a decide run takes: batches in id order, and on PostgreSQL claimed with advisory
try-locks (rows and quota-counted accounts another processor holds are skipped, not waited for)."""

from __future__ import annotations

import logging
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.db import DatabaseError, connection

from inquiries.models import Inquiry
from markets.models import MarketAccount
from partialauto.db import column_of
from policy.controls import AccountControls
from policy.decide_writes import _UNDECIDED
from policy.models import Mode

if TYPE_CHECKING:
    from policy.decide import _Run

log = logging.getLogger("partialauto.decide")

# The columns decide_new reads (the agent needs the text and the references to its facts, the policy
# the account).
_READ_FIELDS = (
    "id",
    "account_id",
    "content",
    "title",
    "product_name",
    "product_id",
    "order_id",
    "order_refs",
    "product_refs",
)


def _quota_counted(controls: AccountControls) -> bool:
    """Whether the quota gate counts this account's decisions (a shadow account sends nothing)."""
    return controls.daily_quota is not None and controls.effective_mode != Mode.SHADOW


@dataclass
class _Batch:
    last_id: int  # the highest id looked at: the next batch starts after it
    rows: list[Inquiry]  # what this processor decides
    claimed: list[int] = field(default_factory=list)  # ids to release once the batch is written


class _Rows:
    """Batches of NEW rows in id order, without claims: one processor at a time (SQLite)."""

    def begin(self, run: _Run) -> None:
        pass

    def next_batch(self, after: int, size: int) -> _Batch | None:
        """The next batch after id ``after``; None when no NEW row is left there."""
        rows = list(Inquiry.objects.filter(status=_UNDECIDED, pk__gt=after).only(*_READ_FIELDS).order_by("pk")[:size])
        return _Batch(rows[-1].pk, rows) if rows else None

    def release(self, batch: _Batch) -> None:
        pass

    def end(self) -> None:
        pass


# Advisory lock key spaces (two-integer form, which never meets the one-bigint form).
_ROW_CLAIM = 0x44454349  # "DECI"
_ACCOUNT_CLAIM = 0x44454341  # "DECA"
# A row id is folded into a non-negative int4 key. Two rows sharing a key (ids 2³¹ apart, both in
# flight at once) can only make one processor skip a row, which the next run decides.
_INT4_SPAN = 2**31


def _pk(inquiry: Inquiry) -> int:
    return inquiry.pk


def _account_key(account_id) -> int:
    return zlib.crc32(uuid.UUID(str(account_id)).bytes) & 0x7FFFFFFF


class _ClaimedRows(_Rows):
    """PostgreSQL: each batch is claimed with a try-lock per row, and rows another processor holds are
    skipped. Accounts whose quota the gate counts are claimed for the whole run, or left alone when
    another processor has them. A run decides the accounts it knew when it began (an account added
    while it runs waits for the next run: its quota claim could not be taken in time)."""

    def __init__(self) -> None:
        self.held: list[int] = []  # account keys this run holds
        self.accounts: list[str] = []  # the accounts whose rows this run decides
        self.skipped: list[str] = []  # quota-counted accounts another processor is deciding

    def begin(self, run: _Run) -> None:
        # only accounts with something to decide: a run queued after each poll must not load every account
        waiting = Inquiry.objects.filter(status=Inquiry.Status.NEW).values("account_id")
        for account in MarketAccount.objects.filter(pk__in=waiting).order_by("pk"):
            run.accounts[account.pk] = account
            if _quota_counted(run.controls_for(account.pk)):
                key = _account_key(account.pk)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ACCOUNT_CLAIM, key])
                    if not cursor.fetchone()[0]:
                        self.skipped.append(account.name)
                        continue
                self.held.append(key)
            self.accounts.append(str(account.pk))
        if self.skipped:
            log.info("decide-accounts-skipped accounts=%s (another processor is deciding them)", ",".join(self.skipped))

    def next_batch(self, after: int, size: int) -> _Batch | None:
        qn = connection.ops.quote_name
        meta = Inquiry._meta
        pk, status, account = (qn(column_of(meta.get_field(name))) for name in ("id", "status", "account"))
        columns = ", ".join(qn(column_of(meta.get_field(name))) for name in _READ_FIELDS)
        # One round trip: the candidates, oldest first, each with the result of its try-lock. The lock
        # sits in the outer select list, so it runs exactly once for each candidate the inner LIMIT
        # chose, and every lock taken is reported back. (A row another processor decides and releases
        # right after this statement's snapshot can still be claimed here; the conditional write then
        # leaves it alone.)
        candidates = list(
            Inquiry.objects.raw(
                f"SELECT c.*, pg_try_advisory_lock(%s, (c.{pk} %% {_INT4_SPAN})::integer) AS claimed FROM ("
                f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {status} = %s AND {pk} > %s "
                f"AND {account} = ANY(%s::uuid[]) ORDER BY {pk} LIMIT %s) AS c",
                [_ROW_CLAIM, _UNDECIDED, after, self.accounts, size],
            )
        )
        if not candidates:
            return None
        # ``claimed``: the try-lock's result, an attribute the raw query adds to each row.
        rows = sorted((inquiry for inquiry in candidates if cast(Any, inquiry).claimed), key=_pk)
        return _Batch(max(inquiry.pk for inquiry in candidates), rows, [inquiry.pk for inquiry in rows])

    def release(self, batch: _Batch) -> None:
        if batch.claimed:
            self._unlock(
                f"SELECT pg_advisory_unlock(%s, (id %% {_INT4_SPAN})::integer) FROM unnest(%s::bigint[]) AS id",
                [_ROW_CLAIM, batch.claimed],
            )

    def end(self) -> None:
        if self.held:
            self._unlock(
                "SELECT pg_advisory_unlock(%s, key) FROM unnest(%s::integer[]) AS key", [_ACCOUNT_CLAIM, self.held]
            )
            self.held = []

    @staticmethod
    def _unlock(sql: str, params: list) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        except DatabaseError:  # claims end with the database session anyway; no decision depends on them
            log.exception("Could not release decision claims")
