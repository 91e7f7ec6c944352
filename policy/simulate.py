"""Replay inquiries through the agent and a proposed policy without sending or writing anything."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from django.utils import timezone
from django.utils.translation import gettext as _

from inquiries.facts import load_facts
from inquiries.models import Inquiry
from markets.models import MarketAccount
from partialauto.iterables import chunked
from policy.controls import AccountControls, load_account_controls, load_global
from policy.decide import policy_decision, run_agent_for
from policy.hours import Calendar
from policy.models import Mode, RolloutPhase
from policy.quota import quota_used

MAX_LINE_CHARS = 100_000


class SimulationInputError(ValueError):
    pass


def read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (line number, item, error) — an unreadable line is reported, never fatal."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            yield number, None, _("줄이 %(max)d자보다 깁니다") % {"max": MAX_LINE_CHARS}
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield number, None, _("JSON 형식 오류: %(error)s") % {"error": exc}
            continue
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("content"), str):
            yield number, None, _('줄마다 "id"와 문자열 "content"가 있는 객체여야 합니다')
            continue
        yield number, item, None


def proposed_controls(
    base: AccountControls, *, full_unlock: bool, threshold: float | None, phase: RolloutPhase | None
) -> AccountControls:
    changes: dict = {}
    if phase is not None:
        changes.update(
            phase_number=phase.number,
            phase_name=phase.name,
            phase_is_default=False,
            allowed_intents=None if phase.all_intents else frozenset(i.name for i in phase.allowed_intents.all()),
            daily_quota=phase.daily_quota,
        )
    if full_unlock:
        last = RolloutPhase.objects.order_by("-number").first()
        glob = dataclasses.replace(base.glob, calendar=Calendar(enabled=False, weekly={}, overrides={}))
        changes.update(
            effective_mode=Mode.LIVE,
            configured_mode=Mode.LIVE,
            mode_reasons=(_("완전 해금 가정 (시뮬레이션)"),),
            allowed_intents=None,
            daily_quota=None,
            locked=False,
            is_active=True,
            glob=glob,
            phase_number=last.number if last else None,
            phase_name=last.name if last else "",
            phase_is_default=False,
        )
    if threshold is not None:
        if not 0 <= threshold <= 1:
            raise SimulationInputError(
                _("--threshold는 0과 1 사이여야 합니다 (받은 값: %(value)s)") % {"value": threshold}
            )
        changes["threshold"] = threshold
    return dataclasses.replace(base, **changes) if changes else base


def virtual_controls() -> AccountControls:
    """Controls for inquiries not tied to a stored account: judged like a new account at phase 1."""
    account = MarketAccount(name="(simulation)", market_code="COUPANG", is_active=True)
    return load_account_controls(account, glob=load_global(), rollout=None)


SIMULATION_CHUNK = 200


def simulate(
    items: Iterable[dict], *, controls_for, at: dt.datetime, seller_name: str = "", account: MarketAccount | None = None
) -> Iterator[dict]:
    """Each item's would-be decision. Facts come from the order mirror, the shipping policy and the
    product knowledge as they are now; an order the mirror lacks is not looked up (nothing is called)."""
    for chunk in chunked(items, SIMULATION_CHUNK):
        facts = load_facts(chunk, now=at, lookups=False, account=account)
        yield from (_simulate_one(item, controls_for, at, seller_name, f) for item, f in zip(chunk, facts, strict=True))


def _simulate_one(item: dict, controls_for, at: dt.datetime, seller_name: str, facts) -> dict:
    controls: AccountControls = controls_for(item)
    result = run_agent_for(
        item,
        account_name=None if controls.account_name == "(simulation)" else controls.account_name,
        seller_name=seller_name,
        facts=facts,
    )
    used = item.get("_quota_used", 0)
    status, reason, details, deferred = policy_decision(result, controls, now=at, used=used)
    return {
        "id": item["id"],
        "intent": result.intent,
        "confidence": round(result.confidence, 4),
        "decision": status,
        "reason": details["reason_code"],
        "reason_text": reason,
        "mode": controls.effective_mode,
        "deferred_until": deferred.isoformat() if deferred else None,
        "risk_hits": result.risk_hits,
        "draft": result.draft,
        "grounded": result.grounded,
        "facts": result.facts,
    }


def stored_items(*, since: dt.timedelta, account: MarketAccount | None) -> Iterator[dict]:
    qs = Inquiry.objects.select_related("account").filter(created_at__gte=timezone.now() - since).order_by("id")
    if account is not None:
        qs = qs.filter(account=account)
    for inquiry in qs.iterator(chunk_size=500):
        yield {
            "id": inquiry.pk,
            "content": inquiry.content,
            "title": inquiry.title,
            "product_name": inquiry.product_name,
            "market_code": inquiry.market_code,
            "_account": inquiry.account,
            "account_id": inquiry.account_id,
            "product_id": inquiry.product_id,
            "order_id": inquiry.order_id,
            "order_refs": inquiry.order_refs,
            "product_refs": inquiry.product_refs,
        }


def summarize(rows: list[dict]) -> dict:
    by_intent: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_intent[r["intent"] or "-"][r["decision"]] += 1
    return {
        "total": len(rows),
        "would_auto_send": sum(1 for r in rows if r["decision"] == "AUTO_SEND"),
        "by_intent": {k: dict(v) for k, v in sorted(by_intent.items())},
        "by_reason": dict(Counter(r["reason"] for r in rows).most_common()),
    }


def replay_stored(
    *,
    account: MarketAccount,
    since: dt.timedelta,
    phase: RolloutPhase | None = None,
    threshold: float | None = None,
    at: dt.datetime | None = None,
) -> list[dict]:
    """The account's stored inquiries of the window replayed through a proposed phase (and threshold),
    judged exactly as ``simulate_policy --since … --account … --phase …`` judges them."""
    at = at or timezone.now()
    controls = proposed_controls(
        load_account_controls(account, glob=load_global()), full_unlock=False, threshold=threshold, phase=phase
    )
    used = quota_used(account_id=account.pk, at=at)

    def controls_for(item: dict) -> AccountControls:
        item["_quota_used"] = used
        return controls

    return list(
        simulate(
            stored_items(since=since, account=account),
            controls_for=controls_for,
            at=at,
            seller_name=account.seller_name,
            account=account,
        )
    )
