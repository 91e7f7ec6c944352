"""Readiness: the guide's phase 1 checks (1.2, 1.3), the monitoring that phase 4 relies on, and the
phase 5 criteria (5.1) and final-approval checklist (5.2). Ready only when every check is ready.

The same report feeds the ``readiness`` command (exit 1 when not ready) and the admin page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_q.models import Schedule

from inquiries.answer_path import AnswerPath
from inquiries.followup_figures import resolution_figures
from markets.models import MarketAccount, ShippingPolicy
from partialauto.schedules import SCHEDULES
from policy.first_response import answered_rows, human_duration, summarize
from policy.hours import load_calendar
from policy.kpi import daily_failure_rates, failure_rates, shadow_stats
from policy.models import (
    AccountRollout,
    AutomationSettings,
    ChecklistItem,
    IntentWithdrawal,
    Notification,
    NotificationChannel,
    RollbackIncident,
    RollbackRule,
)
from policy.selectors import attempt_stats

READY, WARN, FAIL = "ready", "warn", "fail"
MONITOR_FRESH = dt.timedelta(minutes=5)
SHADOW_READY_PER_DAY = 10  # 1.2: 일평균 AUTO_SEND 후보가 10건 이상 → 해금 준비 완료
SHADOW_TOO_FEW_PER_DAY = 5  # 1.2: 5건 미만 → 데이터 부족
PHASE5_MAX_RATE = 0.05  # 5.1 / 5.2: 실패율 < 5%
COMPLAINT_DAYS = 7  # 5.1: 고객 불만족 레포트 0건 — measured over the last 7 days of automatic answers
MONITOR_SCHEDULES = ("partialauto.monitor", "partialauto.notifications")
SECTIONS = {  # the guide's headings; translated when the report is made
    "phase1": gettext_noop("Phase 1: 사전 체크"),
    "phase4": gettext_noop("Phase 4: 모니터링 & 롤백"),
    "phase5": gettext_noop("Phase 5: 안정화 후 프로덕션 전환"),
}


@dataclass
class Check:
    section: str
    code: str
    name: str
    status: str  # ready / warn / fail
    detail: str
    url: str = ""  # where in the admin to fix it, when there is such a page


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


# --- phase 1 -----------------------------------------------------------------------------------------


def _shadow_check(now: dt.datetime) -> Check:
    days = shadow_stats(days=7, now=now)
    total = sum(d["auto_send"] for d in days)
    avg = total / 7
    if avg >= SHADOW_READY_PER_DAY:
        status, verdict = READY, _("해금 준비 완료")
    elif avg < SHADOW_TOO_FEW_PER_DAY:
        status, verdict = FAIL, _("데이터 부족, 섀도 모드 유지")
    else:
        status, verdict = WARN, _("기준(10건) 미달, 섀도 모드 유지 권장")
    return Check(
        "phase1",
        "shadow-candidates",
        _("일평균 AUTO_SEND 후보 (7일)"),
        status,
        _("%(avg)s건/일 (7일 합계 %(total)s건)") % {"avg": f"{avg:.1f}", "total": total} + f" — {verdict}",
    )


def failure_band(rate_pct: float) -> tuple[str, str]:
    """1.3's bands for a failure rate in percent."""
    if rate_pct == 0:
        return READY, _("완벽")
    if rate_pct < 5:
        return READY, _("양호")
    if rate_pct <= 10:
        return WARN, _("모니터링 필요")
    return FAIL, _("원인 파악 후 해금")


def _failure_band(now: dt.datetime) -> Check:
    rows = failure_rates(window=dt.timedelta(days=30), now=now)
    attempted = sum(r["attempted"] for r in rows)
    name = _("SEND_FAILED 비율 (30일)")
    if not attempted:
        return Check("phase1", "failure-band", name, READY, _("전송 시도 없음 — 실패율 0%: 완벽"))
    failed = sum(r["failed"] for r in rows)
    unknown = sum(r["unknown"] for r in rows)
    # An answer whose delivery is still unconfirmed is not a success: it counts against the rate here.
    rate = (failed + unknown) / attempted * 100
    status, verdict = failure_band(rate)
    per = ", ".join(f"{r['account']} {(r['failed'] + r['unknown']) / r['attempted'] * 100:.1f}%" for r in rows)
    extra = f", {_('결과 불명')} {unknown}" if unknown else ""
    return Check(
        "phase1",
        "failure-band",
        name,
        status,
        f"{rate:.1f}% ({failed + unknown}/{attempted}{extra}) — {verdict}; {per}",
    )


def _shipping_policy_checks() -> list[Check]:
    """An active account is ready for automation only with its shipping policy filled in: shipping
    answers without an order are written from it."""
    checks = []
    for account in MarketAccount.objects.active().select_related("shipping_policy").order_by("name"):
        policy = getattr(account, "shipping_policy", None)
        name = _("배송 정책: %(account)s") % {"account": account.name}
        code = f"shipping-policy-{account.name}"
        if policy is None:
            url = reverse("admin:markets_shippingpolicy_add") + f"?account={account.pk}"
            missing = ShippingPolicy(account=account).missing
        else:
            url = reverse("admin:markets_shippingpolicy_change", args=[policy.pk])
            missing = policy.missing
        if policy is not None and not missing:  # a new policy always misses the carrier at least
            detail = _("입력 완료 (%(carrier)s, 당일 출고 마감 %(cutoff)s, 기본 배송비 %(fee)s원)") % {
                "carrier": policy.get_carrier_code_display(),
                "cutoff": f"{policy.dispatch_cutoff:%H:%M}",
                "fee": f"{policy.base_fee:,}",
            }
            checks.append(Check("phase1", code, name, READY, detail, url))
            continue
        where = _(
            "관리자 화면 '마켓 연동 > 배송 정책'에서 입력하거나 `shipping_policy import FILE --account %(account)s`"
        )
        detail = (
            (_("배송 정책이 없습니다") if policy is None else _("입력이 덜 됐습니다"))
            + " — "
            + _("빠진 항목: %(fields)s") % {"fields": ", ".join(missing)}
            + " — "
            + where % {"account": account.name}
        )
        checks.append(Check("phase1", code, name, FAIL, detail, url))
    return checks


# --- phase 4: the monitoring the rollback relies on ---------------------------------------------------


def _monitor_check(now: dt.datetime) -> Check:
    name = _("모니터 스케줄 (매분)")
    found = {s.name: s for s in Schedule.objects.filter(name__in=MONITOR_SCHEDULES)}
    missing = [
        n for n in MONITOR_SCHEDULES if n not in found or found[n].repeats == 0 or found[n].func != SCHEDULES[n][0]
    ]
    if missing:
        return Check(
            "phase4",
            "monitor-schedule",
            name,
            FAIL,
            _("스케줄 없음 또는 중지됨: %(names)s — `setup_schedules` 실행") % {"names": ", ".join(missing)},
        )
    last = AutomationSettings.get_solo().last_monitor_run_at
    if last is None or now - last > MONITOR_FRESH:
        when = timezone.localtime(last).strftime("%Y-%m-%d %H:%M:%S") if last else _("없음")
        return Check(
            "phase4",
            "monitor-schedule",
            name,
            FAIL,
            _("최근 %(minutes)s분 안에 실행 기록 없음 (마지막: %(when)s) — qcluster 확인")
            % {"minutes": int(MONITOR_FRESH.total_seconds() // 60), "when": when},
        )
    return Check(
        "phase4",
        "monitor-schedule",
        name,
        READY,
        _("마지막 실행 %(when)s") % {"when": f"{timezone.localtime(last):%H:%M:%S}"},
    )


def _notification_check(now: dt.datetime) -> Check:
    name = _("알림 채널")
    channels = list(NotificationChannel.objects.filter(is_active=True))
    if not channels:
        return Check("phase4", "notification-channel", name, FAIL, _("알림 받을 이메일/웹훅이 없습니다"))
    kinds = ", ".join(sorted({c.get_kind_display() for c in channels}))
    failing = Notification.objects.filter(
        channel__in=channels, status=Notification.Status.FAILED, incident__fired_at__gte=now - dt.timedelta(days=7)
    ).count()
    if failing:
        return Check(
            "phase4",
            "notification-channel",
            name,
            WARN,
            _("%(n)s개 설정됨 (%(kinds)s) — 전달 실패 중인 알림 %(failing)s건, 알림 발송 기록 확인")
            % {"n": len(channels), "kinds": kinds, "failing": failing},
        )
    return Check(
        "phase4",
        "notification-channel",
        name,
        READY,
        _("%(n)s개 설정됨 (%(kinds)s)") % {"n": len(channels), "kinds": kinds},
    )


def _rules_check() -> Check:
    name = _("롤백 규칙")
    rules = list(RollbackRule.objects.all())
    off = [r.name for r in rules if not r.enabled]
    dry = [r.name for r in rules if r.enabled and r.dry_run]
    if not rules:
        return Check("phase4", "rollback-rules", name, FAIL, _("롤백 규칙이 없습니다"))
    if off or dry:
        return Check(
            "phase4",
            "rollback-rules",
            name,
            FAIL,
            _("꺼짐: %(off)s / 드라이런: %(dry)s") % {"off": ", ".join(off) or "-", "dry": ", ".join(dry) or "-"},
        )
    return Check("phase4", "rollback-rules", name, READY, _("%(n)s개 모두 사용 중") % {"n": len(rules)})


def _incidents_check() -> Check:
    name = _("열린 롤백 사고와 잠긴 계정")
    incidents = list(
        RollbackIncident.objects.select_related("rule", "account")
        .filter(status__in=["OPEN", "ACKNOWLEDGED"], dry_run=False)
        .order_by("-fired_at")[:10]
    )
    locked = list(
        AccountRollout.objects.select_related("account").filter(locked_at__isnull=False).order_by("account__name")[:10]
    )
    if not incidents and not locked:
        return Check("phase4", "open-incidents", name, READY, _("없음"))
    parts = [
        f"#{i.pk} {i.rule.name} ({i.account.name if i.account else _('전체')}, {i.get_status_display()})"
        for i in incidents
    ]
    parts += [_("%(account)s 잠김: %(reason)s") % {"account": r.account.name, "reason": r.lock_reason} for r in locked]
    return Check("phase4", "open-incidents", name, FAIL, "; ".join(parts))


# --- phase 5 -----------------------------------------------------------------------------------------


def _rate_24h(now: dt.datetime) -> Check:
    name = _("실패율 (24시간) < 5%")
    stats = attempt_stats(since=now - dt.timedelta(hours=24))
    total = sum(s["total"] for s in stats.values())
    failed = sum(s["failed"] for s in stats.values())
    if not total:
        return Check("phase5", "failure-rate-24h", name, WARN, _("최근 24시간 실제 전송 없음"))
    rate = failed / total
    status = READY if rate < PHASE5_MAX_RATE else FAIL
    return Check("phase5", "failure-rate-24h", name, status, f"{_pct(rate)} ({failed}/{total})")


def _complaints(now: dt.datetime) -> Check:
    """5.1 "고객 불만족 레포트 0건", measured: complaint follow-ups on automatic answers of the last 7 days
    (``inquiries.followups``), and no intent withdrawn from automation because of them. Reports that reach
    the CS lead by other channels are still written in the checklist's note."""
    name = _("고객 불만족 레포트 0건 (자동 답변 뒤 불만 재문의, 7일)")
    rows = resolution_figures(since=now - dt.timedelta(days=COMPLAINT_DAYS), until=now, path="AUTO")
    answers = sum(r["answers"] for r in rows)
    complaints = [r for r in rows if r["complaints"]]
    withdrawn = list(IntentWithdrawal.objects.active().values_list("account__name", "intent").order_by("account__name"))
    url = reverse("admin:inquiries_followup_changelist") + "?kind__exact=COMPLAINT&path__exact=AUTO"
    problems = []
    if complaints:
        problems.append(
            _("불만 재문의 %(n)d건: %(where)s")
            % {
                "n": sum(r["complaints"] for r in complaints),
                "where": ", ".join(
                    f"{r['account']}/{r['intent']} {r['complaints']}/{r['answers']}" for r in complaints
                ),
            }
        )
    if withdrawn:
        problems.append(_("자동화 중단 중인 의도: %(list)s") % {"list": ", ".join(f"{a}/{i}" for a, i in withdrawn)})
    if problems:
        return Check("phase5", "customer-complaints", name, FAIL, "; ".join(problems), url)
    return Check(
        "phase5",
        "customer-complaints",
        name,
        READY,
        _("자동 답변 %(n)d건에 불만 재문의 0건 (다른 경로의 불만은 체크리스트 메모에)") % {"n": answers},
        url,
    )


def _seven_days(now: dt.datetime, title: str) -> Check:
    """Seven complete days, each with real sends and under 5 %; today too, once it has sends."""
    series = daily_failure_rates(8, now=now)
    complete, today = series[:-1], series[-1]
    bad = [d for d in complete + [today] if d["rate"] is not None and d["rate"] >= PHASE5_MAX_RATE]
    empty = [d for d in complete if not d["attempts"]]
    if bad:
        return Check(
            "phase5",
            "seven-days-under-5pct",
            title,
            FAIL,
            _("5%% 이상인 날: %(days)s") % {"days": ", ".join(f"{d['day']} {_pct(d['rate'])}" for d in bad)},
        )
    if empty:
        return Check(
            "phase5",
            "seven-days-under-5pct",
            title,
            FAIL,
            _("실제 전송이 없는 날 %(n)s일 (%(days)s) — 7일 연속 운영 기록이 필요합니다")
            % {"n": len(empty), "days": ", ".join(d["day"] for d in empty)},
        )
    return Check(
        "phase5",
        "seven-days-under-5pct",
        title,
        READY,
        _("7일 모두 5%% 미만 (최고 %(max)s)") % {"max": _pct(max(d["rate"] for d in complete))},
    )


def _checklist(now: dt.datetime, phase4: list[Check]) -> list[Check]:
    checks = []
    for item in ChecklistItem.objects.select_related("checked_by").order_by("sort_order", "id"):
        if item.code == "seven-days-under-5pct":
            checks.append(_seven_days(now, item.title))
        elif item.is_automatic:
            # "monitoring set up": the schedule runs, someone is told, the rules are armed.
            failing = [c.name for c in phase4 if c.code != "open-incidents" and c.status != READY]
            status = READY if not failing else FAIL
            detail = (
                _("자동 확인: 모니터 스케줄·알림 채널·롤백 규칙 정상")
                if not failing
                else _("자동 확인 실패: %(names)s") % {"names": ", ".join(failing)}
            )
            checks.append(Check("phase5", item.code, item.title, status, detail))
        elif item.checked:
            who = item.checked_by.get_username() if item.checked_by else "?"
            when = f"{timezone.localtime(item.checked_at):%Y-%m-%d %H:%M}" if item.checked_at else "?"
            note = f" — {item.note}" if item.note else ""
            checks.append(
                Check(
                    "phase5",
                    item.code,
                    item.title,
                    READY,
                    _("%(who)s 확인 (%(when)s)") % {"who": who, "when": when} + note,
                )
            )
        else:
            checks.append(Check("phase5", item.code, item.title, FAIL, _("관리자 화면에서 확인 필요")))
    return checks


def first_response_lines(now: dt.datetime) -> list[dict]:
    """First-response time over 24 hours and 7 days, overall and for the automatic answers: shown with
    phase 5's figures (the guide sets no limit for it, so it never makes the report not ready)."""
    rows = answered_rows(since=now - dt.timedelta(days=7), until=now, calendar=load_calendar())
    lines = []
    for window, span in (("24h", dt.timedelta(hours=24)), ("7d", dt.timedelta(days=7))):
        inside = [r for r in rows if r.answered_at >= now - span]
        for scope, members in (("all", inside), ("auto", [r for r in inside if r.path == AnswerPath.AUTO])):
            s = summarize(members)
            name = (
                _("첫 응답 시간 (%(window)s, 전체)") if scope == "all" else _("첫 응답 시간 (%(window)s, 자동 답변)")
            ) % {"window": window}
            detail = (
                _("답변 없음")
                if not s["count"]
                else _(
                    "%(n)s건: 중앙값 %(p50)s, p90 %(p90)s, p95 %(p95)s (영업시간 내 p95 %(in95)s, "
                    "영업시간 외 p95 %(out95)s; 수집 후 p95 %(ours95)s)"
                )
                % {
                    "n": s["count"],
                    "p50": human_duration(s["wait"]["p50"]),
                    "p90": human_duration(s["wait"]["p90"]),
                    "p95": human_duration(s["wait"]["p95"]),
                    "in95": human_duration(s["in_hours"]["p95"]),
                    "out95": human_duration(s["outside_hours"]["p95"]),
                    "ours95": human_duration(s["ours"]["p95"]),
                }
            )
            lines.append({"window": window, "scope": scope, "name": name, "detail": detail, **s})
    return lines


def readiness_report(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    phase1 = [_shadow_check(now), _failure_band(now), *_shipping_policy_checks()]
    phase4 = [_monitor_check(now), _notification_check(now), _rules_check(), _incidents_check()]
    phase5 = [_rate_24h(now), _complaints(now)] + _checklist(now, phase4)
    checks = phase1 + phase4 + phase5
    counts = {s: sum(1 for c in checks if c.status == s) for s in (READY, WARN, FAIL)}
    return {
        "ready": counts[WARN] == 0 and counts[FAIL] == 0,
        "checked_at": timezone.localtime(now).isoformat(timespec="seconds"),
        "counts": counts,
        "sections": {code: _(title) for code, title in SECTIONS.items()},
        "checks": [asdict(c) for c in checks],
        # information next to phase 5, not a check
        "first_response": first_response_lines(now),
    }
