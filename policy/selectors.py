"""Read-side figures for the rollout page, `rollout status`, the monitor and the KPIs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext

from inquiries.models import Inquiry, SendAttempt
from markets.models import MarketAccount
from policy.controls import AccountControls, human_sends_held_q, load_account_controls, load_global
from policy.hours import SEOUL
from policy.models import IntentWithdrawal
from policy.quota import quota_used

FAILURE_OUTCOMES = SendAttempt.FAILURES
COUNTED_OUTCOMES = FAILURE_OUTCOMES + ("DELIVERED", "ALREADY_ANSWERED")


def seoul_day_start(at: dt.datetime | None = None) -> dt.datetime:
    local = (at or timezone.now()).astimezone(SEOUL)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def attempt_stats(*, since: dt.datetime, account_ids=None) -> dict[object, dict[str, int]]:
    """Per account: real (non-test) attempts with a known result, and failures among them."""
    qs = SendAttempt.objects.filter(started_at__gte=since, is_test_mode=False, outcome__in=COUNTED_OUTCOMES)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    rows = qs.values("account_id").annotate(
        total=Count("id"), failed=Count("id", filter=Q(outcome__in=FAILURE_OUTCOMES))
    )
    return {r["account_id"]: {"total": r["total"], "failed": r["failed"]} for r in rows}


@dataclass
class AccountRow:
    account: MarketAccount
    controls: AccountControls
    sent_today: int
    quota_used: int
    attempts_24h: int
    failed_24h: int

    @property
    def failure_rate_24h(self) -> float | None:
        return self.failed_24h / self.attempts_24h if self.attempts_24h else None


def rollout_rows() -> list[AccountRow]:
    glob = load_global()
    accounts = list(
        MarketAccount.objects.select_related("rollout", "rollout__phase")
        .prefetch_related(
            "rollout__intents_override",
            "rollout__phase__allowed_intents",
            Prefetch("intent_withdrawals", queryset=IntentWithdrawal.objects.active(), to_attr="active_withdrawals"),
        )
        .order_by("name")
    )
    now = timezone.now()
    stats = attempt_stats(since=now - dt.timedelta(hours=24))
    sent = dict(
        Inquiry.objects.filter(send_status="SENT", sent_at__gte=seoul_day_start(now))
        .values_list("account_id")
        .annotate(n=Count("id"))
        .values_list("account_id", "n")
    )
    rows = []
    for account in accounts:
        rollout = getattr(account, "rollout", None)
        controls = load_account_controls(account, glob=glob, rollout=rollout)
        st = stats.get(account.pk, {"total": 0, "failed": 0})
        rows.append(
            AccountRow(
                account,
                controls,
                sent.get(account.pk, 0),
                quota_used(account_id=account.pk, at=now),
                st["total"],
                st["failed"],
            )
        )
    return rows


def approved_answers_held() -> int:
    """Approved answers waiting only because test mode or an emergency stop holds them back: they are
    sent, without approving again, once that ends (policy.sending.due_queryset)."""
    return (
        Inquiry.objects.filter(Inquiry.DUE_Q, status="APPROVED", is_test_mode=False)
        .filter(human_sends_held_q())
        .count()
    )


def held_answers_note(*, held_before: int) -> str:
    """What a change of the switches did to the approved answers test mode holds back (for the command
    and admin messages); ``held_before``: :func:`approved_answers_held` before the change."""
    held = approved_answers_held()
    released = held_before - held
    parts = []
    if released > 0:
        parts.append(gettext("대기하던 승인 답변 %(n)d건을 이제 전송합니다 (다시 승인할 필요 없음).") % {"n": released})
    if held:
        parts.append(
            gettext(
                "승인 답변 %(n)d건이 전송 대기 중입니다: 테스트 모드·긴급 정지가 끝나면 다시 승인하지 않아도 "
                "전송됩니다."
            )
            % {"n": held}
        )
    return " ".join(parts)
