"""The rollout's state in the Prometheus text exposition format (version 0.0.4), for existing
monitoring stacks. Written by hand: a dozen gauges do not need a client library.

Every figure is cheap: windows on indexed columns (inquiries by ``created_at``, attempts by
``started_at``), one row per account, counts of open incidents by the status index. Account names
are the only labels; no secret, key or webhook URL is ever exposed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from django.db.models import Count
from django.utils import timezone

from inquiries.models import Inquiry, SendAttempt
from policy import first_response as fr
from policy.controls import load_global
from policy.models import AutomationSettings, Mode, Notification, RollbackIncident
from policy.selectors import rollout_rows

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WINDOW = dt.timedelta(hours=24)


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if math.isnan(value):
            return "NaN"
        return repr(round(value, 6))
    return str(value)


class Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def gauge(self, name: str, help_text: str, samples: Iterable[tuple[dict[str, object], float | int | bool]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
            self.lines.append(f"{name}{{{rendered}}} {_number(value)}" if rendered else f"{name} {_number(value)}")

    def histogram(self, name: str, help_text: str, series: Iterable[dict]) -> None:
        """``series``: ``{"labels", "buckets": [(upper bound, cumulative count)…], "count", "sum"}`` each."""
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} histogram")
        for s in series:
            base = ",".join(f'{key}="{_escape(val)}"' for key, val in s["labels"].items())
            sep = "," if base else ""
            for bound, count in s["buckets"]:
                self.lines.append(f'{name}_bucket{{{base}{sep}le="{_number(float(bound))}"}} {count}')
            self.lines.append(f'{name}_bucket{{{base}{sep}le="+Inf"}} {s["count"]}')
            labels = f"{{{base}}}" if base else ""
            self.lines.append(f"{name}_sum{labels} {_number(float(s['sum']))}")
            self.lines.append(f"{name}_count{labels} {s['count']}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_metrics(*, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    since = now - WINDOW
    out = Exposition()
    glob = load_global()
    conf = AutomationSettings.get_solo()

    by_status = dict(
        Inquiry.objects.filter(created_at__gte=since)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    out.gauge(
        "partialauto_inquiries_total",
        "Inquiries asked in the last 24 hours, by policy status.",
        (({"status": status}, by_status.get(status, 0)) for status in Inquiry.Status.values),
    )

    attempts = list(
        SendAttempt.objects.filter(started_at__gte=since)
        .values("account__name", "outcome")
        .annotate(n=Count("id"))
        .order_by("account__name", "outcome")
    )
    out.gauge(
        "partialauto_send_attempts_24h",
        "Send attempts started in the last 24 hours, by account and outcome "
        "(outcome TEST_MODE: test mode, never a failure).",
        (({"account": r["account__name"], "outcome": r["outcome"]}, r["n"]) for r in attempts),
    )

    rows = rollout_rows()
    out.gauge(
        "partialauto_failure_rate_24h",
        "Failed share (0-1) of real send attempts with a known result in the "
        "last 24 hours, per account with attempts; test mode excluded.",
        (({"account": r.account.name}, r.failure_rate_24h) for r in rows if r.failure_rate_24h is not None),
    )
    out.gauge(
        "partialauto_real_send_attempts_24h",
        "Real send attempts with a known result in the last 24 hours (the failure rate's denominator).",
        (({"account": r.account.name}, r.attempts_24h) for r in rows),
    )
    out.gauge(
        "partialauto_quota_used",
        "Daily quota slots used today (Asia/Seoul day).",
        (({"account": r.account.name}, r.quota_used) for r in rows),
    )
    out.gauge(
        "partialauto_quota_limit",
        "Daily send quota of the account's phase (+Inf: no quota).",
        (
            ({"account": r.account.name}, float("inf") if r.controls.daily_quota is None else r.controls.daily_quota)
            for r in rows
        ),
    )
    out.gauge(
        "partialauto_sent_today",
        "Answers sent today (Asia/Seoul day).",
        (({"account": r.account.name}, r.sent_today) for r in rows),
    )
    out.gauge(
        "partialauto_account_locked",
        "1 when the account's unlock was taken away (by a person or a rollback rule).",
        (({"account": r.account.name}, r.controls.locked) for r in rows),
    )
    out.gauge(
        "partialauto_consecutive_failures",
        "Real send failures in a row per account (test mode never counts).",
        (
            ({"account": r.account.name}, getattr(getattr(r.account, "rollout", None), "consecutive_failures", 0))
            for r in rows
        ),
    )
    out.gauge(
        "partialauto_account_mode",
        "1 for the mode the account really runs in now (after every switch and lock).",
        (
            ({"account": r.account.name, "mode": mode}, r.controls.effective_mode == mode)
            for r in rows
            for mode in Mode.values
        ),
    )

    open_incidents = RollbackIncident.objects.filter(status__in=["OPEN", "ACKNOWLEDGED"], dry_run=False).count()
    out.gauge(
        "partialauto_open_incidents",
        "Rollback incidents open or acknowledged, not resolved (dry-run excluded).",
        [({}, open_incidents)],
    )
    failed_notifications = Notification.objects.filter(status=Notification.Status.FAILED).count()
    out.gauge(
        "partialauto_notifications_failed",
        "Incident notifications whose last delivery attempt failed.",
        [({}, failed_notifications)],
    )
    out.gauge("partialauto_emergency_stop", "1 while the emergency stop is in force.", [({}, glob.emergency_stopped)])
    out.gauge(
        "partialauto_test_mode",
        "1 while global test mode is in force (database or CS_TEST_MODE).",
        [({}, glob.test_mode)],
    )
    out.gauge(
        "partialauto_partial_auto_enabled",
        "1 while the partial-auto switch is on (database and environment).",
        [({}, glob.partial_auto)],
    )
    last = conf.last_monitor_run_at
    out.gauge(
        "partialauto_monitor_last_run_timestamp_seconds",
        "Unix time of the last full rollback-rule evaluation (0: never).",
        [({}, last.timestamp() if last else 0)],
    )
    first_response(out, now=now)
    return out.text()


# --- first-response time ------------------------------------------------------------------------------
# Kept apart from the gauges above: a histogram over every answered inquiry (cumulative, so rate() and
# histogram_quantile() work), and the last 24 hours' percentiles with business hours taken apart.


def first_response(out: Exposition, *, now: dt.datetime) -> None:
    out.histogram(
        "partialauto_first_response_seconds",
        "Seconds from the buyer's question (marketplace time) to the first answer accepted by the "
        "marketplace or seen answered elsewhere, every answered inquiry, by account and path "
        "(AUTO, PERSON, ELSEWHERE).",
        (
            {"labels": {"account": h["account"], "path": h["path"]}, **{k: h[k] for k in ("buckets", "count", "sum")}}
            for h in fr.histogram()
        ),
    )
    windows = fr.first_response_report(now=now)["windows"]["24h"]
    samples = []
    for entry in windows["by_path"]:
        for part in fr.PARTS:
            for p in fr.PERCENTILES:
                value = entry[part][f"p{p}"]
                if value is not None:
                    samples.append(({"path": entry["key"], "part": part, "quantile": f"0.{p}"}, value))
    out.gauge(
        "partialauto_first_response_24h_seconds",
        "First-response percentiles of the inquiries answered in the last 24 hours, by path; part: wait "
        "(all of it), ours (after we fetched it), in_hours / outside_hours (business hours, Asia/Seoul).",
        samples,
    )
