"""Incident notifications: a real webhook receiver on loopback, e-mail through Django's locmem backend,
retries after a failure, and a failing receiver never stopping the rollback."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django.utils import timezone

from policy.models import AccountRollout, Mode, Notification, NotificationChannel, RollbackIncident
from policy.monitor import run_monitor
from policy.notify import MAX_ATTEMPTS, deliver_pending
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account
from tests.policy.history import attempts, rollout_running_since

pytestmark = pytest.mark.django_db

SECRET_PATH = "/services/T0000/B0000/XXXXsecretXXXX"


class Receiver:
    """A Slack-compatible webhook endpoint on 127.0.0.1 that records every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.paths.append(self.path)
                if receiver.status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status == 200 else b"error")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def coupang():
    account = make_account("coupang_main")
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False)
    rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    rollout_running_since(days=30)
    return account


def trip_consecutive(account) -> RollbackIncident:
    attempts(account, failed=3)
    AccountRollout.objects.filter(account=account).update(consecutive_failures=3)
    opened = run_monitor().opened
    assert len(opened) == 1
    return opened[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@override_settings(CS_SITE_URL="https://ops.example.test")
def test_webhook_receives_reason_figures_and_link(coupang, receiver, django_capture_on_commit_callbacks):
    NotificationChannel.objects.create(kind="WEBHOOK", target=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):  # the monitor delivers after its commit
        incident = trip_consecutive(coupang)
    assert len(receiver.bodies) == 1 and receiver.paths == [SECRET_PATH]
    body = receiver.bodies[0]
    assert "동일 계정에서 연속 3건 실패" in body["text"] and "coupang_main" in body["text"]
    assert "연속 전송 실패 3건" in body["text"]
    link = f"https://ops.example.test/admin/policy/rollbackincident/{incident.pk}/change/"
    assert link in body["text"] and body["incident"]["url"] == link
    assert body["incident"]["rule"] == "consecutive-failures" and body["incident"]["account"] == "coupang_main"
    assert body["incident"]["figures"]["consecutive_failures"] == 3
    assert body["incident"]["action"] == "계정 coupang_main 잠금"
    notification = Notification.objects.get()
    assert notification.status == "SENT" and notification.attempts == 1 and notification.sent_at


def test_email_with_reason_figures_and_link(coupang, mailoutbox):
    NotificationChannel.objects.create(kind="EMAIL", target="oncall@example.test")
    incident = trip_consecutive(coupang)
    assert deliver_pending() == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["oncall@example.test"]
    assert "동일 계정에서 연속 3건 실패" in mail.subject and "coupang_main" in mail.subject
    assert "연속 전송 실패 3건" in mail.body and '"consecutive_failures": 3' in mail.body
    assert f"/admin/policy/rollbackincident/{incident.pk}/change/" in mail.body


def test_failing_webhook__rollback_happens__retried_until_the_receiver_recovers(coupang, receiver, mailoutbox):
    NotificationChannel.objects.create(kind="WEBHOOK", target=receiver.url)
    NotificationChannel.objects.create(kind="EMAIL", target="oncall@example.test")
    receiver.status = 500
    incident = trip_consecutive(coupang)
    assert AccountRollout.objects.get(account=coupang).locked_at is not None  # the rollback is not held back
    assert incident.action_taken == "계정 coupang_main 잠금"

    before = timezone.now()
    assert deliver_pending() == 1  # the e-mail went, the webhook did not
    assert len(mailoutbox) == 1
    failed = Notification.objects.get(channel__kind="WEBHOOK")
    assert failed.status == "FAILED" and failed.attempts == 1
    assert "HTTP 500" in failed.last_error
    assert failed.next_attempt_at > before
    assert deliver_pending() == 0  # not due yet: no hammering
    assert Notification.objects.get(pk=failed.pk).attempts == 1

    receiver.status = 200
    Notification.objects.filter(pk=failed.pk).update(next_attempt_at=timezone.now())  # the back-off has passed
    assert deliver_pending() == 1
    sent = Notification.objects.get(pk=failed.pk)
    assert sent.status == "SENT" and sent.attempts == 2 and sent.last_error == ""
    assert len(receiver.bodies) == 1 and receiver.bodies[0]["incident"]["id"] == incident.pk
    assert len(mailoutbox) == 1  # the e-mail was not sent twice


def test_connection_refused__logged_without_the_secret_and_retried(coupang, caplog):
    channel = NotificationChannel.objects.create(
        kind="WEBHOOK", target=f"http://127.0.0.1:{closed_port()}{SECRET_PATH}"
    )
    trip_consecutive(coupang)
    assert deliver_pending() == 0
    failed = Notification.objects.get(channel=channel)
    assert failed.status == "FAILED" and "ConnectionError" in failed.last_error
    assert "secret" not in failed.last_error.lower() and "T0000" not in failed.last_error
    assert "XXXXsecretXXXX" not in caplog.text
    assert failed.next_attempt_at > timezone.now()


def test_a_failing_webhook_inside_the_monitor_run_does_not_undo_the_rollback(
    coupang, django_capture_on_commit_callbacks
):
    NotificationChannel.objects.create(kind="WEBHOOK", target=f"http://127.0.0.1:{closed_port()}/hook")
    attempts(coupang, failed=6)
    with django_capture_on_commit_callbacks(execute=True):
        report = run_monitor()
    assert [i.rule.code for i in report.opened] == ["failed-per-hour"]
    incident = RollbackIncident.objects.get()
    assert incident.action_taken.startswith("전체 테스트 모드 켬")
    from policy.controls import load_global

    assert load_global().test_mode is True
    assert Notification.objects.get().status == "FAILED"


def test_retries_stop_after_the_maximum(coupang, receiver):
    NotificationChannel.objects.create(kind="WEBHOOK", target=receiver.url)
    receiver.status = 503
    trip_consecutive(coupang)
    for _ in range(MAX_ATTEMPTS + 2):
        Notification.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
        deliver_pending()
    notification = Notification.objects.get()
    assert notification.status == "FAILED" and notification.attempts == MAX_ATTEMPTS
    assert len(receiver.paths) == MAX_ATTEMPTS


def test_inactive_channel_is_not_notified(coupang, mailoutbox):
    NotificationChannel.objects.create(kind="EMAIL", target="old@example.test", is_active=False)
    trip_consecutive(coupang)
    assert Notification.objects.count() == 0 and deliver_pending() == 0 and mailoutbox == []


def test_dry_run_incident_is_announced_as_dry_run(coupang, mailoutbox):
    from policy.models import RollbackRule

    RollbackRule.objects.filter(code="consecutive-failures").update(dry_run=True)
    NotificationChannel.objects.create(kind="EMAIL", target="oncall@example.test")
    trip_consecutive(coupang)
    deliver_pending()
    assert mailoutbox[0].subject.startswith("[DRY RUN]") and "시험 실행 — 실행했다면: 계정" in mailoutbox[0].body


def test_the_send_path_does_not_deliver_inline(live, receiver, monkeypatch, django_capture_on_commit_callbacks):
    """After a send failure the immediate check may open an incident; the webhook is posted by a worker."""
    from policy.sending import send_inquiry

    NotificationChannel.objects.create(kind="WEBHOOK", target=receiver.url)
    queued = []
    monkeypatch.setattr("policy.notify.enqueue_delivery", lambda: queued.append(1))
    AccountRollout.objects.filter(account=live.coupang).update(consecutive_failures=2)
    inquiry = live.inquiry()
    live.sandbox.store.delete_inquiry(inquiry.kind, inquiry.external_id)  # the marketplace refuses the answer: 400
    with django_capture_on_commit_callbacks(execute=True):
        assert send_inquiry(inquiry.pk).result == "ESCALATED"
    assert RollbackIncident.objects.filter(rule__code="consecutive-failures").count() == 1
    assert queued == [1]  # handed to a worker
    assert receiver.bodies == [] and Notification.objects.get().status == "PENDING"
    assert deliver_pending() == 1 and len(receiver.bodies) == 1
