"""django-q2 entry points for the policy app: ids in, one service call, nothing else (STYLE §11)."""

from __future__ import annotations


def process_inquiries_task(limit: int = 1000) -> int:
    from policy.decide import decide_new

    return decide_new(limit=limit).decided


def send_inquiry_task(inquiry_id: int) -> str:
    from policy.sending import send_inquiry

    return send_inquiry(inquiry_id).result


def send_due_task(limit: int = 500) -> int:
    from policy.sending import send_due

    return len(send_due(limit=limit))


def reconcile_task() -> int:
    from policy.sending import reconcile

    return len(reconcile())


def monitor_task() -> int:
    from policy.monitor import run_monitor

    return len(run_monitor().opened)


def deliver_notifications_task() -> int:
    from policy.notify import deliver_pending

    return deliver_pending()
