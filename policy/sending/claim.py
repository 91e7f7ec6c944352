"""Step 1, the claim: a batch of due rows (:func:`claim_batch`; one row is a batch of one), each row
with its own token, attempt, lease and quota slot, committed before any marketplace call."""

from __future__ import annotations

import functools
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, F, Q, UUIDField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Now

from inquiries import events, transitions
from inquiries.models import Inquiry, InquiryEvent, SendAttempt
from inquiries.transitions import Step
from policy.controls import AccountControls, GlobalControls, load_account_controls, load_global
from policy.models import AccountRollout, Mode
from policy.quota import quota_consume, quota_day, quota_release
from policy.sending.common import _CLAIM, _CLAIMED_TO, ST, WORKER, Claim, S, _col, _event_columns, due_queryset, log

if TYPE_CHECKING:
    from markets.models import MarketAccount


def claim(
    inquiry_id: int, *, glob: GlobalControls | None = None, actor_label: str = WORKER
) -> tuple[Claim | None, Inquiry | None, AccountControls | None]:
    """Take the send of one inquiry: :func:`claim_batch` over that one row. Returns (None, …) when
    another worker owns it, it is not due, or its account's daily quota is used up (then it goes to a
    person); else the claim, the claimed row and the account's controls as of now."""
    current = _SweepSettings(glob)
    claimed, _exhausted = claim_batch(current, limit=1, only=[inquiry_id], actor_label=actor_label)
    if not claimed:
        return None, None, None
    claim_, row = claimed[0]
    return claim_, row, current.fresh({row.account_id: row.account})[row.account_id]


def _escalate_quota(inquiry_id: int, *, actor_label: str) -> None:
    transitions.perform(
        inquiry_id,
        Step.QUOTA_ESCALATE,
        actor_label=actor_label,
        fields={"decision_reason": "Daily quota used up at send time"},
        message="daily quota used up",
    )
    log.warning("Inquiry %s: daily quota used up, handed to a person", inquiry_id)


# Sweeps claim due rows in batches: one committed transaction claims up to CLAIM_BATCH rows, each with
# its own claim token, attempt and lease. Then, for each group of
# CS_SEND_CONCURRENCY rows (one row at a time on SQLite): the gates on settings confirmed fresh, the
# leases renewed, the marketplace calls in parallel, and the outcomes written fenced row by row by each
# claim token (every delivered row of the group in one statement). A batch spreads over accounts (at
# most CLAIM_PER_ACCOUNT rows of one account), so one vendor's rate limit does not hold up a group.
CLAIM_BATCH = 32


CLAIM_PER_ACCOUNT = 1


def _claimable(glob: GlobalControls):
    return due_queryset().filter(Q(send_attempts__lt=glob.max_send_attempts) | Q(send_attempts__isnull=True))


def _lock_due_ids(glob: GlobalControls, *, limit: int, per_account: int, only: list[int] | None = None) -> list[int]:
    """Lock up to ``limit`` due rows in the current transaction, skipping rows another sweep has locked.

    ``only``: of these rows (a send of given inquiries); a row another transaction holds is skipped
    (still due, the every-minute send sweep takes it).

    On PostgreSQL: at most ``per_account`` rows of each account, the accounts in random order. After a
    poll one account's new rows have consecutive ids; a sweep that took them in id order would wait for
    that vendor's rate limit on every row while the other accounts' rows sat there. Elsewhere (SQLite:
    one process, no row locks): the oldest due rows.
    """
    due = _claimable(glob).order_by("next_attempt_at", "id")
    if only is not None:
        due = due.filter(pk__in=only)
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True, of=("self",))
        return list(due.values_list("id", flat=True)[:limit])
    if connection.vendor != "postgresql":
        return list(due.values_list("id", flat=True)[:limit])
    from markets.models import MarketAccount

    inner = (
        due.filter(account_id=RawSQL('"_claim_account"."id"', (), output_field=UUIDField()))
        .values("id")
        .select_for_update(skip_locked=True, of=("self",))[:per_account]
    )
    sql, params = inner.query.sql_with_params()
    accounts = connection.ops.quote_name(MarketAccount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "_claim_rows"."id" FROM (SELECT "id" FROM {accounts} ORDER BY random()) AS "_claim_account" '
            f'CROSS JOIN LATERAL ({sql}) AS "_claim_rows" LIMIT %s',
            [*params, limit],
        )
        return [row[0] for row in cursor.fetchall()]


_fingerprint_sql: str | None = None


_fingerprint_global_from = 0  # index of the first value that is not about the account (settings, version)


def _settings_fingerprints(account_ids) -> dict:
    """Per account, in one query: every stored value the send path's gates are computed from — the
    settings row (switch, test mode, emergency stop, threshold, hours, lease, attempts), the account
    and its rollout (active, mode, lock, phase, overrides), the phase quotas — plus the configuration's
    version (``policy.config_version``: every save or delete of a configuration row raises it, an edit
    of one business-hours row or of a phase's intents included). Equal fingerprints mean controls loaded
    after the first one still hold."""
    global _fingerprint_sql, _fingerprint_global_from
    if _fingerprint_sql is None:
        from markets.models import MarketAccount
        from policy.models import AutomationSettings, ConfigVersion, RolloutPhase

        qn = connection.ops.quote_name

        def cols(alias, model, names):
            return [f"{alias}.{_col(model, n)}" for n in names]

        phase_table = qn(RolloutPhase._meta.db_table)
        account_columns = (
            cols("a", MarketAccount, ["is_active", "updated_at"])
            + cols(
                "r",
                AccountRollout,
                ["mode", "locked_at", "lock_reason", "phase", "quota_override", "threshold_override", "updated_at"],
            )
            + cols("p", RolloutPhase, ["daily_quota", "all_intents"])
            + [f"(SELECT {qn('daily_quota')} FROM {phase_table} ORDER BY {qn('number')} LIMIT 1)"]
        )
        _fingerprint_global_from = len(account_columns)
        columns = (
            cols("a", MarketAccount, ["id"])
            + account_columns
            + cols(
                "s",
                AutomationSettings,
                [
                    "updated_at",
                    "partial_auto_enabled",
                    "test_mode",
                    "emergency_stopped_at",
                    "emergency_reason",
                    "auto_send_threshold",
                    "business_hours_enabled",
                    "observe_public_holidays",
                    "max_send_attempts",
                    "lease_seconds",
                ],
            )
            + [f"(SELECT {qn('value')} FROM {qn(ConfigVersion._meta.db_table)} WHERE {qn('id')} = 1)"]
        )
        _fingerprint_sql = (
            f"SELECT {', '.join(columns)} FROM {qn(MarketAccount._meta.db_table)} a "
            f"LEFT JOIN {qn(AccountRollout._meta.db_table)} r ON r.{qn('account_id')} = a.{qn('id')} "
            f"LEFT JOIN {phase_table} p ON p.{qn('id')} = r.{qn('phase_id')} "
            f"LEFT JOIN {qn(AutomationSettings._meta.db_table)} s ON s.{qn('id')} = 1 "
            f"WHERE a.{qn('id')} IN (%s)"
        )
    account_ids = list(account_ids)
    # The environment can only tighten the database settings, and tests change it at run time.
    env = (
        settings.CS_ENV_ENABLE_PARTIAL_AUTO,
        settings.CS_ENV_TEST_MODE,
        settings.CS_ENV_TEST_MODE_ALLOWED_ACCOUNTS,
        settings.CS_ENV_AUTO_SEND_THRESHOLD,
    )
    from markets.models import MarketAccount

    pk = MarketAccount._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            _fingerprint_sql % ", ".join(["%s"] * len(account_ids)),
            [pk.get_db_prep_value(i, connection) for i in account_ids],
        )
        return {pk.to_python(row[0]): (tuple(row[1:]), env) for row in cursor.fetchall()}


class _SweepSettings:
    """The settings one sweep claims and sends under. Before each use (a batch claim, each send) one
    query reads the fingerprints of the accounts concerned (:func:`_settings_fingerprints`); the
    controls are loaded in full only when a fingerprint differs from the one read before they were
    last loaded. A kill switch, a lock, a mode, phase or hours change therefore applies to the very
    next claim and the very next send, and a sweep over a hundred accounts does not reload a hundred
    accounts' settings per batch. ``glob``: global controls already loaded, used only to pick the
    rows to lock; the claim and the gates use controls :meth:`fresh` has confirmed."""

    def __init__(self, glob: GlobalControls | None = None) -> None:
        self.glob: GlobalControls | None = glob
        self._glob_key: tuple | None = None
        self._controls: dict[object, tuple[tuple, AccountControls]] = {}

    @property
    def loaded_glob(self) -> GlobalControls:
        """The global controls, once a claim or :meth:`fresh` has loaded them."""
        if self.glob is None:
            raise RuntimeError("the sweep's global controls are not loaded yet")
        return self.glob

    def fresh(self, accounts: dict) -> dict[object, AccountControls]:
        """``accounts``: id → MarketAccount. Returns id → controls, valid as of now."""
        prints = _settings_fingerprints(accounts)  # read first: anything changed after it is seen next time
        result: dict[object, AccountControls] = {}
        for account_id, account in accounts.items():
            values, env = prints.get(account_id, (None, None))
            if values is None:
                raise DatabaseError(f"account {account_id} vanished during a send sweep")
            account.is_active = values[0]  # fresh, for the account-inactive gate
            glob_key = (values[_fingerprint_global_from:], env)  # the settings row, the history ids, the environment
            if glob_key != self._glob_key or self.glob is None:
                self.glob, self._glob_key = load_global(), glob_key
                self._controls.clear()
            cached = self._controls.get(account_id)
            if cached is None or cached[0] != values:
                cached = self._controls[account_id] = (values, load_account_controls(account, glob=self.glob))
            result[account_id] = cached[1]
        return result


# Columns a send never reads (deferred, so they are loaded only if some path does read them).
_NOT_FOR_SENDING = (
    "content",
    "title",
    "product_name",
    "decision_trace",
    "risk_hits",
    "external_answer",
    "decision_reason",
    "raw_payload",
)


def _claim_rows(
    glob: GlobalControls,
    rows: dict[int, Inquiry],
    tokens: dict[int, uuid.UUID],
    modes: dict[int, str],
    lease: timedelta,
    actor_label: str,
) -> dict[int, int]:
    """The claim itself: one conditional UPDATE (the due conditions again) giving each row its own
    token, ``SENDING``, ``send_attempts + 1`` and a lease on the database clock, plus a send-attempt
    record and a CLAIMED event for exactly the rows it updated. Returns id → attempt number."""
    due = _claimable(glob).filter(pk__in=list(tokens))
    if connection.vendor != "postgresql":
        due.update(
            send_status=_CLAIMED_TO,
            claim_token=Case(
                *[When(pk=pk, then=Value(token)) for pk, token in tokens.items()], output_field=UUIDField()
            ),
            claimed_at=Now(),
            lease_expires_at=Now() + Value(lease),
            send_attempts=Coalesce(F("send_attempts"), 0) + 1,
            updated_at=Now(),
        )
        attempts = dict(
            Inquiry.objects.filter(
                pk__in=list(tokens), send_status=_CLAIMED_TO, claim_token__in=list(tokens.values())
            ).values_list("pk", "send_attempts")
        )
        SendAttempt.objects.bulk_create(
            [
                SendAttempt(
                    inquiry_id=pk,
                    account_id=rows[pk].account_id,
                    market_code=rows[pk].market_code,
                    attempt_no=n,
                    claim_token=tokens[pk],
                    is_test_mode=(modes[pk] == Mode.TEST),
                )
                for pk, n in attempts.items()
            ]
        )
        InquiryEvent.objects.bulk_create(
            [
                events.build(
                    pk,
                    transitions.event_of(Step.CLAIM),
                    actor_label=actor_label,
                    to_send_status=_CLAIMED_TO,
                    data={"attempt": n, "claim": str(tokens[pk]), "mode": modes[pk]},
                )
                for pk, n in attempts.items()
            ]
        )
        return attempts
    # PostgreSQL: one statement. The due conditions apply to the updated row itself (not to a
    # sub-select), so a row changed by anyone after this statement's snapshot is re-checked before it
    # is updated; the attempt and the event are written from what the UPDATE returned.
    where_sql, where_params = due.query.get_compiler(connection=connection).compile(due.query.where)
    ids = list(tokens)
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql() % {"due": where_sql},
            [
                ids,
                [tokens[pk] for pk in ids],
                [modes[pk] for pk in ids],
                _CLAIMED_TO,
                lease,  # type: ignore[list-item]  # django-stubs omit timedelta (an interval) from SQL parameter types
                *where_params,
                Mode.TEST,
                _CLAIM.event,
                actor_label[:64],
                _CLAIMED_TO,
            ],
        )
        return dict(cursor.fetchall())


@functools.cache
def _claim_sql() -> str:
    qn = connection.ops.quote_name
    t = qn(Inquiry._meta.db_table)

    def i(name):
        return f"{t}.{_col(Inquiry, name)}"

    attempt_cols = ", ".join(
        _col(SendAttempt, n)
        for n in (
            "inquiry",
            "account",
            "market_code",
            "attempt_no",
            "claim_token",
            "is_test_mode",
            "outcome",
            "error",
            "started_at",
        )
    )
    event_cols = _event_columns()
    pending = SendAttempt.Outcome.PENDING
    return (
        f"WITH v AS (SELECT UNNEST(%%s::bigint[]) AS id, UNNEST(%%s::uuid[]) AS token, UNNEST(%%s::text[]) AS mode), "
        f"claimed AS (UPDATE {t} SET {_col(Inquiry, 'send_status')} = %%s, {_col(Inquiry, 'claim_token')} = v.token, "
        f"{_col(Inquiry, 'claimed_at')} = NOW(), {_col(Inquiry, 'lease_expires_at')} = NOW() + %%s, "
        f"{_col(Inquiry, 'send_attempts')} = COALESCE({i('send_attempts')}, 0) + 1, "
        f"{_col(Inquiry, 'updated_at')} = NOW() "
        f"FROM v WHERE {i('id')} = v.id AND %(due)s "
        f"RETURNING {i('id')} AS id, {i('send_attempts')} AS attempt, {i('account')} AS account_id, "
        f"{i('market_code')} AS market_code, v.token, v.mode), "
        f"attempt AS (INSERT INTO {qn(SendAttempt._meta.db_table)} ({attempt_cols}) "
        f"SELECT id, account_id, market_code, attempt, token, mode = %%s, '{pending}', '', NOW() FROM claimed), "
        f"logged AS (INSERT INTO {qn(InquiryEvent._meta.db_table)} ({event_cols}) "
        f"SELECT id, %%s, NOW(), %%s, '', '', '', %%s, '', "
        f"jsonb_build_object('attempt', attempt, 'claim', token::text, 'mode', mode) FROM claimed ORDER BY id) "
        f"SELECT id, attempt FROM claimed"
    )


def claim_batch(
    current: _SweepSettings,
    *,
    limit: int = CLAIM_BATCH,
    per_account: int = CLAIM_PER_ACCOUNT,
    only: list[int] | None = None,
    actor_label: str = WORKER,
) -> tuple[list[tuple[Claim, Inquiry]], list[int]]:
    """Claim up to ``limit`` due rows (``only``: of these) in one committed transaction. Returns the
    claims (with the claimed rows) and the ids handed to a person because the account's daily quota
    was used up.

    Each row gets ``SENDING``, its own claim token, ``send_attempts + 1``,
    a lease on the database clock, a quota slot when it needs one, a send-attempt record and a CLAIMED
    event, all committed before any marketplace call. The conditional UPDATE (the due conditions again)
    stays the guarantee; the row locks only keep concurrent sweeps from queueing behind each other."""
    claimed: list[tuple[Claim, Inquiry]] = []
    exhausted: list[int] = []
    if current.glob is None:
        current.glob = load_global()
    with transaction.atomic(durable=True):
        ids = _lock_due_ids(current.glob, limit=limit, per_account=per_account, only=only)
        if not ids:
            return [], []
        rows = Inquiry.objects.select_related("account").defer(*_NOT_FOR_SENDING).in_bulk(ids)
        shared: dict[uuid.UUID, MarketAccount] = {}
        for loaded in rows.values():  # one object per account: the fresh flags set on it hold for all its rows
            loaded.account = shared.setdefault(loaded.account_id, loaded.account)
        controls = current.fresh({row.account_id: row.account for row in rows.values()})
        glob = current.glob
        lease = timedelta(seconds=glob.lease_seconds)
        tokens: dict[int, uuid.UUID] = {}
        days: dict[int, date | None] = {}
        modes: dict[int, str] = {}
        for pk in ids:
            row = rows.get(pk)
            if row is None:
                continue
            mode = modes[pk] = controls[row.account_id].send_mode(row.status)
            day = None
            quota = controls[row.account_id].daily_quota
            if row.status == ST.AUTO_SEND and mode == Mode.LIVE and quota is not None:
                day = quota_day()
                if not quota_consume(account_id=row.account_id, limit=quota):
                    exhausted.append(pk)
                    continue
            tokens[pk], days[pk] = uuid.uuid4(), day
        if tokens:
            attempts = _claim_rows(glob, rows, tokens, modes, lease, actor_label)
            for pk, token in tokens.items():
                if pk not in attempts:  # not due any more (cannot happen while we hold the lock; never assume)
                    if (taken := days[pk]) is not None:
                        quota_release(account_id=rows[pk].account_id, day=taken)
                    continue
                row = rows[pk]
                row.send_status, row.claim_token, row.send_attempts = S.SENDING, token, attempts[pk]
                claimed.append((Claim(pk, token, attempts[pk], days[pk]), row))
    for pk in exhausted:
        _escalate_quota(pk, actor_label=actor_label)
    for c, _row in claimed:
        log.info("Inquiry %s locked as SENDING for atomic send", c.inquiry_id)
    return claimed, exhausted
