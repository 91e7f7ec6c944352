"""django-q2 entry points for the inquiries app: ids in, one service call, nothing else (STYLE §11)."""

from __future__ import annotations


def poll_markets_task() -> dict:
    from inquiries.ingest import poll_markets

    return {r.account: {"new": r.created, "errors": r.errors} for r in poll_markets()}


def sweep_markets_task() -> dict:
    """``poll_markets --sweep``: the poll, then the sweep of unanswered inquiries that appeared late."""
    from inquiries.ingest import poll_markets

    return {
        r.account: {"new": r.created, "late": r.sweep_created, "errors": r.errors} for r in poll_markets(sweep=True)
    }
