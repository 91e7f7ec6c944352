"""Work handed to the django-q2 workers by task name (DESIGN 1.2: work that must run "upward" in the
layers is enqueued by name, never imported). The names live here, once.

A broker outage must not lose anything: every task queued from here has a schedule that sweeps up what
it would have done, so a failed enqueue is logged and dropped."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

DECIDE_NEW = "policy.tasks.process_inquiries_task"
# The poll loop (inquiries.polling.run_poll_loop): the schedule starts it every minute, it hands itself on.
POLL_LOOP = "inquiries.tasks.poll_loop_task"
SEND_INQUIRY = "policy.tasks.send_inquiry_task"
SEND_DUE = "policy.tasks.send_due_task"
DELIVER_NOTIFICATIONS = "policy.tasks.deliver_notifications_task"


def enqueue(func: str, *args: object, task_name: str | None = None) -> bool:
    """Queue ``func`` (a dotted task name) with ``args``; False (and a warning) when the broker refused."""
    from django_q.tasks import async_task

    try:
        if task_name:
            async_task(func, *args, q_options={"task_name": task_name})
        else:
            async_task(func, *args)
    except Exception as exc:  # the scheduled sweep does the work instead
        log.warning("could not enqueue %s (%s); the schedule will pick the work up", func, exc)
        return False
    return True


def enqueue_decide() -> bool:
    """Queue the decision of the inquiries a poll just stored; the every-minute schedule is the net."""
    return enqueue(DECIDE_NEW, task_name="decide-after-poll")


def enqueue_send(inquiry_id: int) -> bool:
    """Hand one inquiry's send to a worker; the every-minute send sweep catches anything this misses."""
    return enqueue(SEND_INQUIRY, inquiry_id, task_name=f"send-{inquiry_id}")


def enqueue_send_sweep() -> bool:
    """Queue a send sweep now (after decisions or after a hold ends); the schedule sweeps every minute."""
    return enqueue(SEND_DUE, task_name="send-due-after-decisions")
