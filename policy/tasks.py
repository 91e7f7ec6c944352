"""django-q2 entry points for the policy app."""

from __future__ import annotations


def monitor_task() -> int:
    from policy.monitor import run_monitor

    return len(run_monitor().opened)


def deliver_notifications_task() -> int:
    from policy.notify import deliver_pending

    return deliver_pending()
