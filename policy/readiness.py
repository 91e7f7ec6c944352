"""Readiness: the guide's phase 1 checks (1.2, 1.3) and phase 5 checklist (5.1, 5.2)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.utils import timezone
from django_q.models import Schedule

from policy.kpi import failure_rates, shadow_stats
from policy.models import AutomationSettings, ChecklistItem, NotificationChannel, RollbackRule
from policy.monitor import daily_failure_rates

READY, WARN, FAIL = "ready", "warn", "fail"
MONITOR_FRESH = dt.timedelta(minutes=5)


@dataclass
class Check:
    section: str
    name: str
    status: str  # ready / warn / fail
    detail: str


def _shadow_check(now) -> Check:
    days = shadow_stats(days=7, now=now)
    avg = sum(d["auto_send"] for d in days) / 7
    if avg >= 10:
        status, verdict = READY, "해금 준비 완료"
    elif avg < 5:
        status, verdict = FAIL, "데이터 부족, Shadow Mode 유지"
    else:
        status, verdict = WARN, "기준(10건) 미달, Shadow Mode 유지 권장"
    return Check("phase1", "일평균 AUTO_SEND 후보 (7일)", status, f"{avg:.1f}건/일 — {verdict}")


def _failure_band(now) -> Check:
    rows = failure_rates(window=dt.timedelta(days=30), now=now)
    attempted = sum(r["attempted"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    if not attempted:
        return Check("phase1", "SEND_FAILED 비율 (30일)", READY, "전송 시도 없음 — 실패율 0%: 완벽")
    rate = failed / attempted * 100
    if rate == 0:
        status, verdict = READY, "완벽"
    elif rate < 5:
        status, verdict = READY, "양호"
    elif rate <= 10:
        status, verdict = WARN, "모니터링 필요"
    else:
        status, verdict = FAIL, "원인 파악 후 해금"
    per = ", ".join(f"{r['account']} {r['failure_rate']}%" for r in rows)
    return Check("phase1", "SEND_FAILED 비율 (30일)", status, f"{rate:.1f}% ({failed}/{attempted}) — {verdict}; {per}")


def _seven_days(now) -> Check:
    series = daily_failure_rates(7, now=now)
    bad = [d for d in series if d["rate"] is not None and d["rate"] >= 0.05]
    empty = [d for d in series if not d["attempts"]]
    if bad:
        return Check("phase5", "7일 연속 실패율 < 5%", FAIL, "5% 이상인 날: " + ", ".join(f"{d['day']} {d['rate']*100:.1f}%" for d in bad))
    if empty:
        return Check("phase5", "7일 연속 실패율 < 5%", FAIL, f"전송 기록이 없는 날 {len(empty)}일 — 7일 연속 운영 기록이 필요합니다")
    return Check("phase5", "7일 연속 실패율 < 5%", READY, "7일 모두 5% 미만")


def _monitor_check(now) -> Check:
    schedule = Schedule.objects.filter(name="partialauto.monitor").first()
    last = AutomationSettings.get_solo().last_monitor_run_at
    if schedule is None:
        return Check("phase5", "모니터 스케줄", FAIL, "partialauto.monitor 스케줄 없음 — `setup_schedules` 실행")
    if last is None or now - last > MONITOR_FRESH:
        return Check("phase5", "모니터 스케줄", FAIL, f"최근 {MONITOR_FRESH.seconds // 60}분 안에 실행 기록 없음 (마지막: {last or '없음'}) — qcluster 확인")
    return Check("phase5", "모니터 스케줄", READY, f"마지막 실행 {timezone.localtime(last):%H:%M:%S}")


def _notification_check() -> Check:
    n = NotificationChannel.objects.filter(is_active=True).count()
    return Check("phase5", "알림 채널", READY if n else FAIL, f"{n}개 설정됨" if n else "알림 받을 이메일/웹훅이 없습니다")


def _rules_check() -> Check:
    rules = list(RollbackRule.objects.all())
    off = [r.name for r in rules if not r.enabled]
    dry = [r.name for r in rules if r.enabled and r.dry_run]
    if off or dry:
        return Check("phase5", "롤백 규칙", FAIL, "꺼짐: " + (", ".join(off) or "-") + " / 드라이런: " + (", ".join(dry) or "-"))
    return Check("phase5", "롤백 규칙", READY, f"{len(rules)}개 모두 사용 중")


def readiness_report(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    checks = [_shadow_check(now), _failure_band(now), _seven_days(now), _monitor_check(now), _notification_check(), _rules_check()]
    for item in ChecklistItem.objects.select_related("checked_by").filter(is_automatic=False):
        detail = (f"{item.checked_by or '?'} @ {timezone.localtime(item.checked_at):%Y-%m-%d %H:%M}" if item.checked
                  else "관리자 화면에서 확인 필요")
        checks.append(Check("phase5", item.title, READY if item.checked else FAIL, detail))
    ready = all(c.status == READY for c in checks)
    return {"ready": ready, "checked_at": timezone.localtime(now).isoformat(timespec="seconds"),
            "checks": [asdict(c) for c in checks]}
