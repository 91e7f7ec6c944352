"""Incident notifications: e-mail and Slack-compatible webhooks, from an outbox with retries.

The monitor writes one ``Notification`` row per incident and active channel in the transaction that
opens the incident; delivery happens after the commit (right away after a monitor run, and every
minute from the delivery schedule). A failing channel is logged, marked ``FAILED`` with the error
and the time of the next attempt, and retried with back-off — it never undoes or delays the rollback.

A webhook URL carries its secret in the path (Slack's ``/services/T…/B…/…``), so it never appears
in an error message, a log line or the admin.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from partialauto import backoff
from partialauto.queue import DELIVER_NOTIFICATIONS, enqueue
from policy.models import Notification, NotificationChannel, RollbackIncident

log = logging.getLogger("partialauto.notify")
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
CLAIM_SECONDS = 60  # a claimed row is not handed out again for this long (a crashed deliverer)
WEBHOOK_TIMEOUT = (3.05, 5)
TIME_BUDGET_SECONDS = 30  # stay well inside the django-q task timeout


def incident_link(incident: RollbackIncident) -> str:
    return settings.CS_SITE_URL.rstrip("/") + reverse("admin:policy_rollbackincident_change", args=[incident.pk])


def _scope(incident: RollbackIncident) -> str:
    return incident.account.name if incident.account else "전체"


def incident_subject(incident: RollbackIncident) -> str:
    prefix = "[DRY RUN] " if incident.dry_run else ""
    return f"{prefix}[partialauto] 롤백: {incident.rule.name} ({_scope(incident)})"


def incident_text(incident: RollbackIncident) -> str:
    from policy.monitor import summarize

    prefix = "[DRY RUN] " if incident.dry_run else ""
    rule = incident.rule
    return (
        f"{prefix}🚨 partialauto 롤백: {rule.name} ({_scope(incident)})\n"
        f"사유: {summarize(rule, incident.figures)} — 규칙 {rule.code} ({rule.comparison} {rule.threshold})\n"
        f"조치: {incident.action_taken}\n"
        f"수치: {json.dumps(incident.figures, ensure_ascii=False, default=str)[:1500]}\n"
        f"발생: {timezone.localtime(incident.fired_at):%Y-%m-%d %H:%M:%S}\n"
        f"사고: {incident_link(incident)}"
    )


def webhook_payload(incident: RollbackIncident) -> dict:
    """Slack's incoming-webhook shape (``text``), plus the incident as data for other receivers."""
    from policy.monitor import summarize

    return {
        "text": incident_text(incident),
        "incident": {
            "id": incident.pk,
            "rule": incident.rule.code,
            "rule_name": incident.rule.name,
            "account": incident.account.name if incident.account else None,
            "reason": summarize(incident.rule, incident.figures),
            "action": incident.action_taken,
            "figures": incident.figures,
            "dry_run": incident.dry_run,
            "fired_at": incident.fired_at.isoformat(),
            "url": incident_link(incident),
        },
    }


def masked_target(channel: NotificationChannel) -> str:
    if channel.kind == NotificationChannel.Kind.WEBHOOK:
        parts = urlsplit(channel.target)
        return f"{parts.scheme}://{parts.netloc}/…"
    return channel.target


def _redact(message: str, channel: NotificationChannel) -> str:
    """Error texts from HTTP libraries quote the URL; keep the webhook's secret path out of them."""
    if channel.kind != NotificationChannel.Kind.WEBHOOK:
        return message
    parts = urlsplit(channel.target)
    secrets = [channel.target, parts.path + ("?" + parts.query if parts.query else ""), parts.path, parts.query]
    for secret in sorted({s for s in secrets if s and s not in ("/", "")}, key=len, reverse=True):
        message = message.replace(secret, "/…")
    return message


class DeliveryError(Exception):
    pass


def _deliver(notification: Notification) -> None:
    incident, channel = notification.incident, notification.channel
    if channel.kind == NotificationChannel.Kind.EMAIL:
        send_mail(
            subject=incident_subject(incident),
            message=incident_text(incident),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[channel.target],
            fail_silently=False,
        )
        return
    response = requests.post(
        channel.target, json=webhook_payload(incident), timeout=WEBHOOK_TIMEOUT, allow_redirects=False
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")


def retry_delay(attempts: int) -> timedelta:
    """After the ``attempts``-th failed attempt: 30 s, 1 min, 2 min … capped at an hour."""
    return timedelta(seconds=backoff.exponential(attempts, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS))


def due_notifications():
    return Notification.objects.filter(
        Q(status__in=[Notification.Status.PENDING, Notification.Status.FAILED]),
        next_attempt_at__lte=timezone.now(),
        attempts__lt=MAX_ATTEMPTS,
    )


def deliver_pending(*, limit: int = 50, budget_seconds: float = TIME_BUDGET_SECONDS) -> int:
    """Deliver what is due; returns how many were delivered. Safe to run concurrently: each row is
    claimed with a conditional UPDATE first, so two deliverers never post the same notification."""
    delivered = 0
    deadline = time.monotonic() + budget_seconds
    due = list(
        due_notifications().select_related("incident__rule", "incident__account", "channel").order_by("id")[:limit]
    )
    for notification in due:
        if time.monotonic() > deadline:
            break  # the rest waits for the next run
        claimed = Notification.objects.filter(
            pk=notification.pk,
            attempts=notification.attempts,
            status__in=[Notification.Status.PENDING, Notification.Status.FAILED],
        ).update(attempts=F("attempts") + 1, next_attempt_at=timezone.now() + timedelta(seconds=CLAIM_SECONDS))
        if not claimed:
            continue
        attempt = notification.attempts + 1
        try:
            _deliver(notification)
        except Exception as exc:  # any failure is logged and retried; the rollback already happened
            message = _redact(f"{type(exc).__name__}: {exc}", notification.channel)[:500]
            final = attempt >= MAX_ATTEMPTS
            Notification.objects.filter(pk=notification.pk).update(
                status=Notification.Status.FAILED,
                last_error=message,
                next_attempt_at=timezone.now() + retry_delay(attempt),
            )
            log.error(
                "notification-failed notification=%s incident=%s channel=%s attempt=%s%s: %s",
                notification.pk,
                notification.incident_id,
                masked_target(notification.channel),
                attempt,
                " (giving up)" if final else "",
                message,
            )
            continue
        Notification.objects.filter(pk=notification.pk).update(
            status=Notification.Status.SENT, sent_at=timezone.now(), last_error=""
        )
        log.info(
            "notification-sent notification=%s incident=%s channel=%s",
            notification.pk,
            notification.incident_id,
            masked_target(notification.channel),
        )
        delivered += 1
    return delivered


def enqueue_delivery() -> None:
    """Hand delivery to a worker; the every-minute delivery schedule catches anything this misses."""
    enqueue(DELIVER_NOTIFICATIONS)
