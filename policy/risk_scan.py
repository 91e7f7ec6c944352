"""The risk-keyword rule's reading of AUTO_SEND decisions: each decision read once, and all of them.

Every decision is scanned for risk keywords when it is made: the agent records its hits on the row
(``risk_hits``), and a hit normally sends the inquiry to a person. The rule catches the decisions that
were sent automatically anyway: AUTO_SEND with recorded hits, and AUTO_SEND decisions made before
today's keyword list took effect, rescanned with it (a keyword added after the decision still counts).

Rescanning the rule's whole window every minute would cost more the busier the shop is (and a cap on
the rows would leave the older ones unchecked), so the monitor keeps its progress in ``RiskScanState``
and what matched in ``RiskScanHit``:

* The decisions' own records are read once, behind a watermark on ``decided_at``. The decide step
  stamps ``decided_at`` when its batch starts and commits within a worker task's timeout (60 s), so
  each run reads again from ``SETTLE`` before the last watermark. Only rows with recorded hits come
  back from the database, so that overlap costs an index range, not a scan.
* When the keyword list changes, and on the first run, the decisions of the widest risk window are
  rescanned with the Python matcher, and so are those decided until every agent process has reloaded
  the list (``CACHE_TTL_SECONDS`` later). The decisions rescanned within ``SETTLE`` of the progress
  mark are remembered, so one committed late is still rescanned and none is rescanned twice.
* The rule counts the matches whose decision is still the inquiry's AUTO_SEND decision and lies in its
  window.

``monitor --dry-run`` rolls all of it back, like everything else it does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inquiries.models import Inquiry
from partialauto.iterables import chunked
from policy.models import RiskScanHit, RiskScanState

# A decision is committed at most this long after its decided_at (stamped when the decide batch starts;
# a worker task is killed after 60 s).
SETTLE = dt.timedelta(minutes=5)
# Matches of decisions older than this are dropped: no window of the rule looks further back.
KEEP = dt.timedelta(days=7)
CHUNK = 2000
AUTO_SEND = Inquiry.Status.AUTO_SEND

Match = tuple[dt.datetime, list[str]]  # the decision's decided_at, the terms it matched


@dataclass
class ScanReport:
    reset: bool = False  # the keyword list changed (or first run): the window is being rescanned
    records: int = 0  # decisions read whose own record has risk hits
    rescanned: int = 0  # decisions rescanned with today's keyword list
    matched: int = 0  # matches stored by this run


def advance(*, covered_from: dt.datetime, clock: dt.datetime | None = None) -> ScanReport:
    """Read the decisions not read yet. ``covered_from``: the oldest decision a risk rule's window needs
    (older than what is covered, or a new keyword list: the window is read again from there). ``clock``:
    the time of the run (default: now)."""
    from inquiries.agent.loader import CACHE_TTL_SECONDS, risk_terms

    terms = risk_terms()
    fingerprint = _fingerprint(terms)
    report = ScanReport()
    with transaction.atomic():
        state = _locked_state()
        clock = clock or timezone.now()
        if state.terms_fingerprint != fingerprint or state.covered_from is None or covered_from < state.covered_from:
            _reset(state, fingerprint, covered_from, rescan_until=clock + dt.timedelta(seconds=CACHE_TTL_SECONDS))
            report.reset = True
        found: dict[int, Match] = {}
        report.records = _read_records(state, found)
        state.decided_until = clock
        assert state.rescan_until is not None  # _reset sets it with covered_from, which is set by now
        if state.rescanned_until is None or state.rescanned_until - SETTLE < state.rescan_until:
            report.rescanned = _rescan(state, terms, clock, found)
        else:
            state.rescanned = {}  # the rescan is complete: nothing left to tell apart
        report.matched = _store(found)
        RiskScanHit.objects.filter(decided_at__lt=clock - KEEP).delete()
        state.save()
    return report


def _locked_state() -> RiskScanState:
    state = RiskScanState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        RiskScanState.objects.get_or_create(pk=1)
        state = RiskScanState.objects.select_for_update().get(pk=1)
    return state


def matches(*, since: dt.datetime, until: dt.datetime) -> list[Mapping[str, Any]]:
    """The matches whose decision, made in [since, until], is still the inquiry's AUTO_SEND decision;
    newest first."""
    return list(
        RiskScanHit.objects.filter(
            decided_at__gte=since, decided_at__lte=until, inquiry__status=AUTO_SEND, inquiry__decided_at=F("decided_at")
        )
        .order_by("-decided_at", "-inquiry_id")
        .values("inquiry_id", "terms", "inquiry__account__name", "inquiry__decision_mode", "inquiry__send_status")
    )


def _fingerprint(terms) -> str:
    key = sorted((t.term, t.category, list(t.variants), t.is_regex) for t in terms)
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


def _reset(state: RiskScanState, fingerprint: str, covered_from: dt.datetime, *, rescan_until: dt.datetime) -> None:
    """Start over for a keyword list: every match found with another list is void."""
    RiskScanHit.objects.all().delete()
    state.terms_fingerprint = fingerprint
    state.covered_from = covered_from
    state.decided_until = state.rescanned_until = None
    state.rescan_until = rescan_until
    state.rescanned = {}


def _read_records(state: RiskScanState, found: dict[int, Match]) -> int:
    """The decisions' own records: AUTO_SEND rows decided since the watermark with recorded hits."""
    start = state.decided_until - SETTLE if state.decided_until else state.covered_from
    rows = (
        Inquiry.objects.filter(status=AUTO_SEND, decided_at__gte=start)
        .exclude(risk_hits=[])
        .values_list("id", "decided_at", "risk_hits")
    )
    count = 0
    for pk, decided_at, hits in rows:  # few: a recorded hit normally sends the inquiry to a person
        count += 1
        if terms := _recorded(hits):
            found[pk] = (cast(dt.datetime, decided_at), terms)  # non-null by the filter on it
    return count


def _rescan(state: RiskScanState, terms, clock: dt.datetime, found: dict[int, Match]) -> int:
    """Rescan with ``terms`` the decisions made before ``rescan_until`` that are not rescanned yet."""
    qs = Inquiry.objects.filter(status=AUTO_SEND, decided_at__lte=state.rescan_until)
    if state.rescanned_until is None:
        qs = qs.filter(decided_at__gte=state.covered_from)
    else:
        qs = qs.filter(decided_at__gt=state.rescanned_until - SETTLE)
    # decided_at is non-null by the filter on it.
    seen = cast(list[tuple[int, dt.datetime]], list(qs.values_list("id", "decided_at")))
    done = state.rescanned
    todo = [pk for pk, decided_at in seen if done.get(str(pk)) != decided_at.isoformat()]
    for ids in chunked(todo, CHUNK):
        rows = Inquiry.objects.filter(pk__in=ids, status=AUTO_SEND).values(
            "id", "decided_at", "title", "content", "draft_answer", "risk_hits"
        )
        for row in rows:
            decided_at = row["decided_at"]
            if decided_at is None:  # undecided since it was listed above: nothing to match
                continue
            if matched := _recorded(row["risk_hits"]) or _scan(row, terms):
                found[row["id"]] = (decided_at, matched)
    state.rescanned_until = clock
    state.rescanned = {str(pk): decided_at.isoformat() for pk, decided_at in seen if decided_at > clock - SETTLE}
    return len(todo)


def _recorded(hits) -> list[str]:
    return (
        sorted({h["term"] for h in hits or [] if isinstance(h, dict) and h.get("term")})
        if isinstance(hits, list)
        else []
    )


def _scan(row: Mapping[str, Any], terms) -> list[str]:
    from inquiries.agent.risk import scan

    found = scan(f"{row['title']}\n{row['content']}", terms) + scan(row["draft_answer"] or "", terms)
    return sorted({hit.term for hit in found if hit.term})


def _store(found: dict[int, Match]) -> int:
    if found:
        RiskScanHit.objects.bulk_create(
            [
                RiskScanHit(inquiry_id=pk, decided_at=decided_at, terms=terms)
                for pk, (decided_at, terms) in found.items()
            ],
            update_conflicts=True,
            unique_fields=["inquiry"],
            update_fields=["decided_at", "terms", "found_at"],
        )
    return len(found)
