"""django-q2 entry points for the inquiries app: ids in, one service call, nothing else (STYLE §11)."""

from __future__ import annotations


def poll_markets_task() -> dict:
    """Every active account once, now (what ``poll_markets`` does); new inquiries are then decided."""
    from inquiries.ingest import poll_markets
    from partialauto.queue import enqueue_decide

    results = poll_markets()
    if any(r.created for r in results):
        enqueue_decide()
    return {r.account: {"new": r.created, "errors": r.errors} for r in results}


def poll_loop_task() -> dict:
    """The poll loop (inquiries.polling): each account at its own interval for about 40 seconds."""
    from inquiries.polling import run_poll_loop

    s = run_poll_loop()
    return {"polls": s.polls, "new": s.created, "errors": s.errors[:20], "handed_over": s.handed_over}


def sweep_markets_task() -> dict:
    """``poll_markets --sweep``: the poll, then the sweep of unanswered inquiries that appeared late."""
    from inquiries.ingest import poll_markets
    from partialauto.queue import enqueue_decide

    results = poll_markets(sweep=True)
    if any(r.created or r.sweep_created for r in results):
        enqueue_decide()
    return {r.account: {"new": r.created, "late": r.sweep_created, "errors": r.errors} for r in results}
