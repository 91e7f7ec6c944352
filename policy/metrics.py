"""The rollout's state for existing monitoring stacks, in the Prometheus text format, written by
``prometheus_client`` (its exposition, escaping and number formatting).

The figures are read from the database at scrape time (every process sees the same numbers, so no
per-process counters): a collector built for one scrape yields metric families. Every figure is cheap:
windows on indexed columns (inquiries by ``created_at``, attempts by ``started_at``), one row per
account, counts of open incidents by the status index. Account names are the only labels; no secret,
key or webhook URL is ever exposed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from inquiries.followup_figures import resolution_figures
from inquiries.models import Inquiry, SendAttempt
from policy import first_response as fr
from policy.controls import load_global
from policy.models import AutomationSettings, IntentWithdrawal, Mode, Notification, RollbackIncident
from policy.selectors import rollout_rows

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
WINDOW = dt.timedelta(hours=24)
FOLLOW_UP_WINDOW = dt.timedelta(days=7)  # the complaint rule's and readiness's window

Samples = Iterable[tuple[dict[str, object], float | int | bool]]


class Exposition:
    """The metric families of one scrape, collected as they are computed."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def gauge(self, name: str, help_text: str, samples: Samples) -> None:
        rows = [(labels, float(value)) for labels, value in samples]
        label_names = list(rows[0][0]) if rows else []
        family = GaugeMetricFamily(name, help_text, labels=label_names)
        for labels, value in rows:
            family.add_metric([str(labels[k]) for k in label_names], value)
        self.families.append(family)

    def collect(self) -> Iterator[Metric]:
        yield from self.families

    def histogram(self, name: str, help_text: str, series: Iterable[dict]) -> None:
        """``series``: ``{"labels", "buckets": [(upper bound, cumulative count)…], "count", "sum"}`` each;
        the ``+Inf`` bucket is the count."""
        rows = list(series)
        label_names = list(rows[0]["labels"]) if rows else []
        family = HistogramMetricFamily(name, help_text, labels=label_names)
        for s in rows:
            buckets = [(str(float(bound)), count) for bound, count in s["buckets"]] + [("+Inf", s["count"])]
            family.add_metric([str(s["labels"][k]) for k in label_names], buckets, float(s["sum"]))
        self.families.append(family)

    def text(self) -> str:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry).decode("utf-8")


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

    resolution = resolution_figures(since=now - FOLLOW_UP_WINDOW, until=now)

    def labels(r: dict) -> dict[str, object]:
        return {"account": r["account"], "intent": r["intent"], "path": r["path"]}

    out.gauge(
        "partialauto_answers_7d",
        "Answers delivered in the last 7 days, by account, intent and path (AUTO: automatic, HUMAN: a person's).",
        ((labels(r), r["answers"]) for r in resolution),
    )
    out.gauge(
        "partialauto_follow_ups_7d",
        "Of those answers, how many the same buyer or order wrote again about (within the follow-up window).",
        ((labels(r), r["follow_ups"]) for r in resolution),
    )
    out.gauge(
        "partialauto_complaint_follow_ups_7d",
        "Of those answers, how many drew a follow-up complaining about the answer.",
        ((labels(r), r["complaints"]) for r in resolution),
    )
    out.gauge(
        "partialauto_complaint_follow_up_rate_7d",
        "Share (0-1) of the answers that drew a complaint follow-up, per account, intent and path.",
        ((labels(r), r["complaint_rate"]) for r in resolution if r["complaint_rate"] is not None),
    )
    withdrawn = IntentWithdrawal.objects.active().values_list("account__name", "intent").order_by("account__name")
    out.gauge(
        "partialauto_intent_withdrawn",
        "1 for each intent taken out of automation for an account (complaint follow-ups), until restored.",
        (({"account": name, "intent": intent}, 1) for name, intent in withdrawn),
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
