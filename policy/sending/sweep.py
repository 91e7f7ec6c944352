"""The whole path for one inquiry, and the sweep that sends every due row in claimed batches."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Value
from django.db.models.functions import Now

from inquiries.models import Inquiry
from partialauto.db import in_transaction, threads_allowed
from policy.controls import GlobalControls
from policy.sending.calls import _call, _call_in_thread, _executor
from policy.sending.claim import CLAIM_BATCH, _SweepSettings, claim_batch
from policy.sending.common import Claim, Result, S, SendReport, _col, _fenced, log
from policy.sending.gates import _gate, _lease_lost, stale_order_facts
from policy.sending.outcomes import _finalize_delivered, _record_outcome


def send_inquiry(inquiry_id: int, *, glob: GlobalControls | None = None, client_factory=None) -> SendReport:
    """The whole path for one inquiry (the task an approval queues): the sweep's path for a batch of one."""
    current = _SweepSettings(glob)
    claimed, exhausted = claim_batch(current, limit=1, only=[inquiry_id])
    if not claimed:
        return SendReport(inquiry_id, Result.NOT_CLAIMED, "daily quota used up" if exhausted else "")
    return _send_group(claimed, current, client_factory, [])[0]


def send_concurrency() -> int:
    """Marketplace calls a sweep keeps in flight (``CS_SEND_CONCURRENCY``); 1 where the calls may not
    move to threads of their own (the database rate limiter would query on their connections)."""
    if not threads_allowed():
        return 1
    return max(1, int(getattr(settings, "CS_SEND_CONCURRENCY", 32)))


def send_due(*, limit: int = 100, client_factory=None, batch_size: int = CLAIM_BATCH) -> list[SendReport]:
    """Send what is due now, through the same claim/lease path as the workers, in claimed batches."""
    reports: list[SendReport] = []
    current = _SweepSettings()
    width = send_concurrency()
    while len(reports) < limit:
        # No more rows than one group: every claimed row's call starts right after its claim (a lease
        # is never spent waiting behind other groups).
        claimed, exhausted = claim_batch(current, limit=min(batch_size, width, limit - len(reports)))
        reports += [SendReport(pk, Result.NOT_CLAIMED, "daily quota used up") for pk in exhausted]
        if not claimed:
            if not exhausted:
                break
            continue
        group: list[SendReport] = []
        try:
            _send_group(claimed, current, client_factory, group)
        except DatabaseError as exc:
            # The database went away mid-send: the rows keep their leases and the reconciler settles them.
            log.error(
                "Inquiries %s: database error during send (%s); left for reconciliation",
                [c.inquiry_id for c, _ in claimed],
                exc,
            )
            close_old_connections()
            connection.close()
            done = {r.inquiry_id for r in group}
            group += [
                SendReport(c.inquiry_id, Result.DB_ERROR, str(exc)) for c, _ in claimed if c.inquiry_id not in done
            ]
        reports += group
    return reports


def _send_group(
    group: list[tuple[Claim, Inquiry]], current: _SweepSettings, client_factory, reports: list[SendReport]
) -> list[SendReport]:
    """Steps 2–4 for a claimed group (of one or more rows); each row's report is appended to ``reports``
    as soon as it is known, and ``reports`` is returned."""
    # 2. the gates, on settings confirmed fresh right now (one fingerprint read for the group)
    controls = current.fresh({inquiry.account_id: inquiry.account for _claim, inquiry in group})
    stale = stale_order_facts([inquiry for _claim, inquiry in group])
    ready: list[tuple[Claim, Inquiry, str]] = []
    for claim_, inquiry in group:
        gated = _gate(claim_, inquiry, current.loaded_glob, controls[inquiry.account_id], stale.get(inquiry.pk))
        if isinstance(gated, SendReport):
            reports.append(gated)
        else:
            ready.append((claim_, inquiry, gated))
    if not ready:
        return reports
    # The leases, renewed in one statement right before the calls, only where still ours and unexpired.
    held = _renew_leases([c for c, _i, _t in ready], current.loaded_glob)
    for claim_, _inquiry, _text in ready:
        if claim_.inquiry_id not in held:
            reports.append(_lease_lost(claim_))
    ready = [row for row in ready if row[0].inquiry_id in held]
    if in_transaction():
        raise RuntimeError("the marketplace call must not run inside a transaction (a rollback could undo the claim)")
    # 3. the calls: one on this thread, more in parallel; no database work happens on the call threads
    # (but the rate limiter's)
    width = send_concurrency()
    if len(ready) == 1 or width == 1:
        calls = [_call(client_factory, inquiry, text) for _claim, inquiry, text in ready]
    else:
        pool = _executor(width)
        futures = [pool.submit(_call_in_thread, client_factory, inquiry, text) for _claim, inquiry, text in ready]
        calls = [future.result() for future in futures]
    # 4. the outcomes: every delivered one in one write, fenced row by row by its claim token
    from markets.clients.types import SendOutcome

    delivered = [(row, call) for row, call in zip(ready, calls, strict=True) if call.outcome == SendOutcome.DELIVERED]
    written = _finalize_delivered(delivered) if delivered else set()
    for (claim_, inquiry, text), call in zip(ready, calls, strict=True):
        if call.outcome != SendOutcome.DELIVERED:
            reports.append(_record_outcome(claim_, inquiry, text, current.loaded_glob, call))
        elif claim_.inquiry_id in written:
            log.info("Successfully auto-sent inquiry %s", inquiry.pk)
            reports.append(SendReport(inquiry.pk, Result.SENT))
        else:  # fenced out, logged where it was written
            reports.append(SendReport(inquiry.pk, Result.FENCED))
    return reports


def _renew_leases(claims: list[Claim], glob: GlobalControls) -> set[int]:
    """Renew the leases of ``claims`` where still ours and unexpired (a worker that stalled past its
    lease — the reconciler may already be asking the marketplace — must not send). Returns the ids held."""
    renewal = timedelta(seconds=glob.lease_seconds)
    if connection.vendor != "postgresql":
        return {
            c.inquiry_id
            for c in claims
            if _fenced(c).filter(lease_expires_at__gt=Now()).update(lease_expires_at=Now() + Value(renewal))
        }
    t = connection.ops.quote_name(Inquiry._meta.db_table)
    pk, token, status, lease = (
        _col(Inquiry, name) for name in ("id", "claim_token", "send_status", "lease_expires_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {t} SET {lease} = NOW() + %s "
            f"FROM (SELECT UNNEST(%s::bigint[]) AS id, UNNEST(%s::uuid[]) AS token) AS v "
            f"WHERE {t}.{pk} = v.id AND {t}.{token} = v.token AND {t}.{status} = %s AND {t}.{lease} > NOW() "
            f"RETURNING {t}.{pk}",
            [
                renewal,  # type: ignore[list-item]  # django-stubs omit timedelta (an interval) from SQL parameter types
                [c.inquiry_id for c in claims],
                [c.token for c in claims],
                S.SENDING,
            ],
        )
        return {row[0] for row in cursor.fetchall()}
