"""The django-q2 schedules, as code. `setup_schedules` creates or updates them idempotently."""

from __future__ import annotations

from django_q.models import Schedule

from partialauto.queue import DECIDE_NEW, POLL_LOOP

# name → (function, minutes). Schedule.MINUTES ('I'), never 'M' (monthly). The scheduler runs about
# twice a minute, so one minute is the finest useful interval.
SCHEDULES = {
    # The poll loop polls each account at its own interval (30 s by default) and queues its successor;
    # this schedule restarts it within a minute if the chain ever breaks (inquiries.polling).
    "partialauto.poll_markets": (POLL_LOOP, 1),
    # Unanswered inquiries over each API's whole lookback: those that appeared too late for the watermark.
    "partialauto.sweep_markets": ("inquiries.tasks.sweep_markets_task", 30),
    "partialauto.sync_orders": ("markets.tasks.sync_orders_task", 3),
    # A poll that stores new inquiries queues this at once, and deciding queues the send sweep: these
    # schedules are the net for whatever the chain missed (a broker outage, a killed worker).
    "partialauto.process_inquiries": (DECIDE_NEW, 1),
    "partialauto.send_due": ("policy.tasks.send_due_task", 1),
    "partialauto.reconcile": ("policy.tasks.reconcile_task", 1),
    "partialauto.monitor": ("policy.tasks.monitor_task", 1),
    "partialauto.notifications": ("policy.tasks.deliver_notifications_task", 1),
}


def setup_schedules() -> list[tuple[str, str]]:
    """Create or update each schedule by name; remove duplicates a hand edit may have made."""
    results = []
    for name, (func, minutes) in SCHEDULES.items():
        rows = list(Schedule.objects.filter(name=name).order_by("id"))
        for extra in rows[1:]:
            extra.delete()
        defaults = {"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1}
        if rows:
            row = rows[0]
            changed = any(getattr(row, k) != v for k, v in defaults.items())
            for k, v in defaults.items():
                setattr(row, k, v)
            if changed:
                row.save()
            results.append((name, "updated" if changed else "unchanged"))
        else:
            Schedule.objects.create(name=name, **defaults)
            results.append((name, "created"))
    return results
