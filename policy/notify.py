"""Incident notifications: e-mail and Slack-compatible webhooks, from an outbox with retries.

Delivery happens after the rollback is committed; a failing channel is logged and retried with
back-off, and never undoes or delays the rollback itself.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from policy.models import Notification, NotificationChannel, RollbackIncident

log = logging.getLogger("partialauto.notify")
MAX_ATTEMPTS = 8
WEBHOOK_TIMEOUT = (3.05, 5)


def incident_link(incident: RollbackIncident) -> str:
    return settings.CS_SITE_URL.rstrip("/") + reverse("admin:policy_rollbackincident_change", args=[incident.pk])


def incident_text(incident: RollbackIncident) -> str:
    scope = incident.account.name if incident.account else "전체"
    prefix = "[DRY RUN] " if incident.dry_run else ""
    return (f"{prefix}🚨 partialauto 롤백: {incident.rule.name} ({scope})\n"
            f"조치: {incident.action_taken}\n"
            f"수치: {json.dumps(incident.figures, ensure_ascii=False, default=str)[:1500]}\n"
            f"사고: {incident_link(incident)}")


def _deliver(notification: Notification) -> None:
    incident, channel = notification.incident, notification.channel
    text = incident_text(incident)
    if channel.kind == NotificationChannel.Kind.EMAIL:
        send_mail(subject=f"[partialauto] 롤백: {incident.rule.name}", message=text,
                  from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[channel.target], fail_silently=False)
        return
    payload = {
        "text": text,
        "incident": {"id": incident.pk, "rule": incident.rule.code, "account": incident.account.name if incident.account else None,
                     "action": incident.action_taken, "figures": incident.figures, "dry_run": incident.dry_run,
                     "fired_at": incident.fired_at.isoformat(), "url": incident_link(incident)},
    }
    response = requests.post(channel.target, json=payload, timeout=WEBHOOK_TIMEOUT)
    if response.status_code >= 300:
        raise RuntimeError(f"webhook answered HTTP {response.status_code}")


def deliver_pending(*, limit: int = 50) -> int:
    delivered = 0
    due = (Notification.objects.select_related("incident__rule", "incident__account", "channel")
           .filter(status__in=[Notification.Status.PENDING, Notification.Status.FAILED], next_attempt_at__lte=timezone.now(),
                   attempts__lt=MAX_ATTEMPTS).order_by("id")[:limit])
    for notification in due:
        # Claim the row so two deliverers do not both post it.
        claimed = Notification.objects.filter(pk=notification.pk, attempts=notification.attempts).update(
            attempts=F("attempts") + 1, next_attempt_at=timezone.now() + timedelta(seconds=60))
        if not claimed:
            continue
        try:
            _deliver(notification)
        except Exception as exc:  # any failure is logged and retried; the rollback already happened
            message = f"{type(exc).__name__}: {exc}"[:500]
            delay = min(30 * 2 ** notification.attempts, 3600)
            Notification.objects.filter(pk=notification.pk).update(
                status=Notification.Status.FAILED, last_error=message, next_attempt_at=timezone.now() + timedelta(seconds=delay))
            log.error("Notification %s for incident %s failed (%s); will retry", notification.pk, notification.incident_id,
                      message)
            continue
        Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.SENT, sent_at=timezone.now(),
                                                               last_error="")
        delivered += 1
    return delivered
