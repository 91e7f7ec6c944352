"""django-q2 entry points: ids in, one service call, nothing else (STYLE §11)."""

from __future__ import annotations


def send_inquiry_task(inquiry_id: int) -> str:
    from inquiries.sending import send_inquiry

    return send_inquiry(inquiry_id).result


def send_due_task(limit: int = 500) -> int:
    from inquiries.sending import send_due

    return len(send_due(limit=limit))


def reconcile_task() -> int:
    from inquiries.sending import reconcile

    return len(reconcile())


def process_inquiries_task(limit: int = 1000) -> int:
    from inquiries.decide import decide_new

    return decide_new(limit=limit).decided
