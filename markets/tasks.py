"""django-q2 entry points for the markets app."""

from __future__ import annotations


def sync_orders_task() -> dict:
    from markets.orders import sync_orders

    return {r.account: {"fetched": r.fetched, "errors": r.errors} for r in sync_orders()}
