"""django-q2 entry points for the markets app."""

from __future__ import annotations


def poll_markets_task() -> dict:
    from markets.ingest import poll_markets

    return {r.account: {"new": r.created, "errors": r.errors} for r in poll_markets()}


def sweep_markets_task() -> dict:
    """``poll_markets --sweep``: the poll, then the sweep of unanswered inquiries that appeared late."""
    from markets.ingest import poll_markets

    return {
        r.account: {"new": r.created, "late": r.sweep_created, "errors": r.errors} for r in poll_markets(sweep=True)
    }


def sync_orders_task() -> dict:
    from markets.orders import sync_orders

    return {r.account: {"fetched": r.fetched, "errors": r.errors} for r in sync_orders()}
