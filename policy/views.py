"""Staff pages beside the admin — the monitoring dashboard and the readiness page — and ``/metrics``.

The charts are inline SVG drawn here on the server (no JavaScript, no CDN: the console works
without network access). Every figure comes from :mod:`policy.kpi`, windows on indexed columns.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any, cast

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from inquiries.answer_path import AnswerPath
from partialauto.admin_utils import verdict
from policy import services
from policy.controls import load_global
from policy.first_response import by_day as first_response_by_day
from policy.first_response import human_duration
from policy.kpi import WINDOWS, automation_by_day, daily_failure_rates, follow_ups_by_day, kpi_report
from policy.metrics import CONTENT_TYPE, render_metrics
from policy.models import AutomationSettings, ChecklistItem, RollbackIncident, RollbackRule
from policy.readiness import readiness_report

CHART_DAYS = 14
OPEN_INCIDENTS_SHOWN = 20
VERDICTS = {"ready": "pass", "warn": "warn", "fail": "fail"}  # a readiness status as admin_utils.verdict draws it

# colours of the stock admin palette
GREEN, AMBER, RED, BLUE, GREY = "#5b9b5e", "#e0a526", "#ba2121", "#417690", "#cccccc"


# --- SVG chart geometry ------------------------------------------------------------------------------


def _f(value: float) -> str:
    return f"{value:.1f}"


def _pct_label(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


# (top of the scale, grid steps) for failure rates: grid lines at round percentages
RATE_SCALES = [(0.04, 4), (0.06, 3), (0.08, 4), (0.1, 5), (0.15, 3), (0.2, 4), (0.3, 3), (0.5, 5), (1.0, 4)]


def _rate_scale(values: list[float | None], floor: float) -> tuple[float, int]:
    top = max([v for v in values if v is not None] + [floor]) * 1.05
    return next(((t, steps) for t, steps in RATE_SCALES if t >= top), RATE_SCALES[-1])


def _frame(width: int, height: int, left: int = 44, right: int = 12, top: int = 14, bottom: int = 34) -> dict:
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "plot_w": width - left - right,
        "plot_h": height - top - bottom,
    }


def _y_ticks(frame: dict, top_value: float, steps: int, fmt) -> list[dict]:
    ticks = []
    for i in range(steps + 1):
        value = top_value * i / steps
        y = frame["top"] + frame["plot_h"] * (1 - i / steps)
        ticks.append(
            {
                "y": _f(y),
                "text_y": _f(y + 4),
                "x1": frame["left"],
                "x2": frame["width"] - frame["right"],
                "label": fmt(value),
            }
        )
    return ticks


def automation_chart(days: list[dict]) -> dict:
    """Bars: the share of inquiries decided AUTO_SEND per day (in shadow mode: candidates)."""
    frame = _frame(720, 220)
    n = max(len(days), 1)
    slot = frame["plot_w"] / n
    bars = []
    for i, d in enumerate(days):
        rate = (d["auto_rate"] or 0) / 100
        h = frame["plot_h"] * rate
        x = frame["left"] + i * slot + slot * 0.15
        y = frame["top"] + frame["plot_h"] - h
        bars.append(
            {
                "x": _f(x),
                "y": _f(y),
                "w": _f(slot * 0.7),
                "h": _f(h),
                "fill": BLUE,
                "label": d["day"][5:],
                "label_x": _f(x + slot * 0.35),
                "label_y": _f(frame["height"] - frame["bottom"] + 16),
                "value": "" if d["auto_rate"] is None else f"{d['auto_rate']:.0f}%",
                "value_y": _f(y - 3),
                "title": _("%(day)s: 자동 전송 판정 %(auto)s / 문의 %(total)s건 (%(rate)s)")
                % {
                    "day": d["day"],
                    "auto": d["auto_send"],
                    "total": d["total"],
                    "rate": "-" if d["auto_rate"] is None else f"{d['auto_rate']:.1f}%",
                },
            }
        )
    return {
        "id": "chart-automation",
        "title": _("일별 자동화율 (최근 %(n)s일)") % {"n": len(days)},
        "frame": frame,
        "bars": bars,
        "lines": [],
        "ticks": _y_ticks(frame, 1.0, 4, lambda v: f"{v * 100:.0f}%"),
        "baseline_y": _f(frame["top"] + frame["plot_h"]),
        "plot_right": frame["width"] - frame["right"],
    }


def failure_chart(days: list[dict], thresholds: list[dict]) -> dict:
    """Bars: the real failure rate per day; dashed lines: the rollback rules' thresholds."""
    frame = _frame(720, 220, right=150)  # the thresholds are labelled in the right margin
    top_value, steps = _rate_scale([d["rate"] for d in days] + [t["value"] for t in thresholds], 0.05)
    n = max(len(days), 1)
    slot = frame["plot_w"] / n
    low = min((t["value"] for t in thresholds), default=None)
    high = max((t["value"] for t in thresholds), default=None)
    bars = []
    for i, d in enumerate(days):
        rate = d["rate"]
        h = frame["plot_h"] * ((rate or 0) / top_value)
        x = frame["left"] + i * slot + slot * 0.15
        y = frame["top"] + frame["plot_h"] - h
        if rate is None:
            fill = GREY
        elif high is not None and rate >= high:
            fill = RED
        elif low is not None and rate >= low:
            fill = AMBER
        else:
            fill = GREEN
        bars.append(
            {
                "x": _f(x),
                "y": _f(y),
                "w": _f(slot * 0.7),
                "h": _f(h),
                "fill": fill,
                "label": d["day"][5:],
                "label_x": _f(x + slot * 0.35),
                "label_y": _f(frame["height"] - frame["bottom"] + 16),
                "value": "" if rate is None else _pct_label(rate),
                "value_y": _f(y - 3),
                "title": _("%(day)s: 실패 %(failed)s / 실제 전송 %(attempts)s건 (%(rate)s)")
                % {"day": d["day"], "failed": d["failed"], "attempts": d["attempts"], "rate": _pct_label(rate)},
            }
        )
    lines = []
    for t in thresholds:
        y = frame["top"] + frame["plot_h"] * (1 - t["value"] / top_value)
        lines.append(
            {
                "x1": frame["left"],
                "x2": frame["width"] - frame["right"],
                "y": _f(y),
                "label_y": _f(y + 4),
                "label_x": frame["width"] - frame["right"] + 4,
                "stroke": RED if t["value"] == high else AMBER,
                "label": t["label"],
            }
        )
    return {
        "id": "chart-failure",
        "title": _("일별 실패율과 롤백 임계값 (최근 %(n)s일)") % {"n": len(days)},
        "frame": frame,
        "bars": bars,
        "lines": lines,
        "ticks": _y_ticks(frame, top_value, steps, lambda v: f"{v * 100:g}%"),
        "baseline_y": _f(frame["top"] + frame["plot_h"]),
        "plot_right": frame["width"] - frame["right"],
    }


# Top of the first-response chart's scale (seconds) and its grid steps: the first one above the highest bar.
WAIT_SCALES = [(60, 4), (120, 4), (300, 5), (600, 5), (1800, 6), (3600, 4), (4 * 3600, 4), (12 * 3600, 6), (86400, 4)]


def first_response_chart(days: list[dict]) -> dict:
    """Per day: the first-response wait's p95 (light bar) with its p50 inside (dark bar)."""
    frame = _frame(720, 220, left=56)
    highest = max([d["wait_p95"] or 0 for d in days] + [1]) * 1.05
    top_value, steps = next(((t, n) for t, n in WAIT_SCALES if t >= highest), (highest, 4))
    n = max(len(days), 1)
    slot = frame["plot_w"] / n
    bars = []
    for i, d in enumerate(days):
        x = frame["left"] + i * slot + slot * 0.15
        for key, fill, inset in (("wait_p95", "#9cc3d5", 0.0), ("wait_p50", BLUE, 0.2)):
            value = d[key] or 0
            h = frame["plot_h"] * min(value / top_value, 1.0)
            y = frame["top"] + frame["plot_h"] - h
            bars.append(
                {
                    "x": _f(x + slot * inset),
                    "y": _f(y),
                    "w": _f(slot * (0.7 - 2 * inset)),
                    "h": _f(h),
                    "fill": fill,
                    "label": d["day"][5:] if key == "wait_p95" else "",
                    "label_x": _f(x + slot * 0.35),
                    "label_y": _f(frame["height"] - frame["bottom"] + 16),
                    "value": human_duration(d[key]) if key == "wait_p95" and d["count"] else "",
                    "value_y": _f(y - 3),
                    "title": _(
                        "%(day)s: 답변 %(count)s건, 대기 p50 %(p50)s · p95 %(p95)s "
                        "(영업시간 내 p50 %(in50)s · p95 %(in95)s)"
                    )
                    % {
                        "day": d["day"],
                        "count": d["count"],
                        "p50": human_duration(d["wait_p50"]),
                        "p95": human_duration(d["wait_p95"]),
                        "in50": human_duration(d["in_hours_p50"]),
                        "in95": human_duration(d["in_hours_p95"]),
                    },
                }
            )
    return {
        "id": "chart-first-response",
        "title": _("일별 첫 응답 시간 p50 / p95 (최근 %(n)s일)") % {"n": len(days)},
        "frame": frame,
        "bars": bars,
        "lines": [],
        "ticks": _y_ticks(frame, top_value, steps, human_duration),
        "baseline_y": _f(frame["top"] + frame["plot_h"]),
        "plot_right": frame["width"] - frame["right"],
    }


def quota_chart(rows: list[dict]) -> dict:
    """Horizontal bars per account: today's quota slots used against the quota (a full track = the quota)."""
    row_h, label_w = 26, 150
    frame = {
        "width": 720,
        "height": max(len(rows), 1) * row_h + 24,
        "left": label_w,
        "right": 110,
        "top": 8,
        "bottom": 16,
    }
    track_w = frame["width"] - frame["left"] - frame["right"]
    # Without a quota the bar is scaled against the busiest such account.
    unlimited_top = max([r["sent_today"] for r in rows if r["quota"] is None] + [1])
    bars = []
    for i, r in enumerate(rows):
        quota = r["quota"]
        used = r["quota_used"] if quota is not None else r["sent_today"]
        if quota is None:
            share = used / unlimited_top
        else:
            share = min(used / quota, 1.0) if quota else 1.0
        if quota is None:
            fill = BLUE
        elif used >= quota:
            fill = RED
        elif used >= quota * 0.8:
            fill = AMBER
        else:
            fill = GREEN
        y = frame["top"] + i * row_h
        bars.append(
            {
                "y": _f(y + 4),
                "h": row_h - 8,
                "x": frame["left"],
                "track_w": _f(track_w),
                "w": _f(track_w * share),
                "fill": fill,
                "label": r["account"],
                "label_y": _f(y + row_h / 2 + 4),
                "value": f"{used} / {quota}" if quota is not None else f"{used} / ∞",
                "value_x": frame["width"] - frame["right"] + 8,
                "title": _("%(account)s: 오늘 %(used)s건 / 한도 %(quota)s (%(mode)s)")
                % {"account": r["account"], "used": used, "quota": "∞" if quota is None else quota, "mode": r["mode"]},
                "locked": r["locked"],
            }
        )
    return {"id": "chart-quota", "title": _("계정별 오늘 전송 / 일일 한도"), "frame": frame, "bars": bars}


def first_response_table(report: dict) -> list[dict]:
    """Rows for the dashboard: per window, everything and each path, durations in words."""
    rows = []
    for window, groups in report["windows"].items():
        for key, entry in [("", groups["all"])] + [(e["key"], e) for e in groups["by_path"]]:
            rows.append(
                {
                    "window": window,
                    "path": str(AnswerPath(key).label) if key else str(_("전체")),
                    "count": entry["count"],
                    **{
                        f"{part}_{p}": human_duration(entry[part][p])
                        for part in ("wait", "ours", "in_hours", "outside_hours")
                        for p in ("p50", "p90", "p95")
                    },
                }
            )
    return rows


def rule_thresholds() -> list[dict]:
    """The enabled failure-rate rules' thresholds, to draw against the daily failure rate."""
    rules = RollbackRule.objects.filter(
        enabled=True, metric__in=[RollbackRule.Metric.ACCOUNT_FAILURE_RATE, RollbackRule.Metric.GLOBAL_FAILURE_RATE]
    ).order_by("threshold")
    seen: dict[float, dict] = {}
    for rule in rules:
        scope = _("계정별 잠금") if rule.metric == RollbackRule.Metric.ACCOUNT_FAILURE_RATE else _("전역 테스트 모드")
        entry = seen.setdefault(rule.threshold, {"value": rule.threshold, "labels": []})
        entry["labels"].append(f"{rule.comparison} {rule.threshold * 100:g}% {scope}")
    return [{"value": v["value"], "label": ", ".join(v["labels"])} for v in seen.values()]


# --- pages -------------------------------------------------------------------------------------------


@never_cache
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    window = request.GET.get("window", "24h")
    if window not in WINDOWS:
        window = "24h"
    now = timezone.now()
    report = kpi_report(window=window, now=now)
    thresholds = rule_thresholds()
    incidents_qs = RollbackIncident.objects.filter(status__in=["OPEN", "ACKNOWLEDGED"])
    open_incidents = list(incidents_qs.select_related("rule", "account").order_by("-fired_at")[:OPEN_INCIDENTS_SHOWN])
    for incident in open_incidents:
        shown = cast(Any, incident)  # the template's links, set on the instance
        shown.url = reverse("admin:policy_rollbackincident_change", args=[incident.pk])
        shown.page_url = reverse("policy:incident", args=[incident.pk])
    glob = load_global()
    last_run = AutomationSettings.get_solo().last_monitor_run_at
    context = {
        **admin.site.each_context(request),
        "title": _("운영 대시보드"),
        "window": window,
        "windows": list(WINDOWS),
        "kpi": report,
        "glob": glob,
        "last_monitor_run": last_run,
        "monitor_stale": last_run is None or now - last_run > dt.timedelta(minutes=5),
        "automation_chart": automation_chart(automation_by_day(days=CHART_DAYS, now=now)),
        "failure_chart": failure_chart(daily_failure_rates(CHART_DAYS, now=now), thresholds),
        "quota_chart": quota_chart(report["quota_today"]),
        "follow_up_days": follow_ups_by_day(days=7, now=now),
        "first_response_chart": first_response_chart(first_response_by_day(days=CHART_DAYS, now=now)),
        "first_response_rows": first_response_table(report["first_response"]),
        "thresholds": thresholds,
        "open_incidents": open_incidents,
        "open_incident_count": incidents_qs.count()
        if len(open_incidents) >= OPEN_INCIDENTS_SHOWN
        else len(open_incidents),
        "incident_list_url": reverse("admin:policy_rollbackincident_changelist") + "?status__exact=OPEN",
        "readiness_url": reverse("policy:readiness"),
        "can_stop": request.user.has_perm("policy.emergency_stop"),
    }
    return TemplateResponse(request, "admin/policy/dashboard.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def readiness(request: HttpRequest) -> HttpResponse:
    can_tick = request.user.has_perm("policy.change_checklistitem")
    if request.method == "POST":
        if not can_tick:
            raise PermissionDenied
        item = get_object_or_404(ChecklistItem, code=request.POST.get("item", ""), is_automatic=False)
        checked = request.POST.get("checked") == "1"
        services.checklist_set(item=item, checked=checked, user=request.user, note=request.POST.get("note", "")[:300])
        messages.success(
            request,
            (_("완료로 표시했습니다: %(title)s") if checked else _("완료를 취소했습니다: %(title)s"))
            % {"title": item.title},
        )
        return redirect("policy:readiness")
    report = readiness_report()
    manual = {i.code: i for i in ChecklistItem.objects.filter(is_automatic=False)}
    sections: list[dict[str, Any]] = []
    for check in report["checks"]:
        if not sections or sections[-1]["code"] != check["section"]:
            sections.append(
                {
                    "code": check["section"],
                    "title": report["sections"].get(check["section"], check["section"]),
                    "checks": [],
                }
            )
        check = {**check, "verdict": verdict(VERDICTS[check["status"]]), "manual": manual.get(check["code"])}
        sections[-1]["checks"].append(check)
    context = {
        **admin.site.each_context(request),
        "title": _("프로덕션 전환 준비 상태"),
        "report": report,
        "sections": sections,
        "can_tick": can_tick,
        "checked_at": timezone.localtime(),
        "checklist_url": reverse("admin:policy_checklistitem_changelist"),
        "dashboard_url": reverse("policy:dashboard"),
    }
    return TemplateResponse(request, "admin/policy/readiness.html", context)


# --- /metrics ----------------------------------------------------------------------------------------


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape target: a staff session, or ``Authorization: Bearer <CS_METRICS_TOKEN>`` when
    that setting is set. 401 without credentials, 403 with wrong ones."""
    token = _bearer(request)
    configured = settings.CS_METRICS_TOKEN or ""
    allowed = False
    if token is not None:
        allowed = bool(configured) and hmac.compare_digest(token.encode(), configured.encode())
        if not allowed:
            return HttpResponse("forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    elif request.user.is_authenticated:
        if not (request.user.is_active and request.user.is_staff):
            return HttpResponse("forbidden\n", status=403, content_type="text/plain; charset=utf-8")
        allowed = True
    if not allowed:
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="partialauto metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE)
