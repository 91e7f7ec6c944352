"""Small admin helpers shared by the apps' admin modules."""

from __future__ import annotations

import datetime as dt
import json
import re

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _


class NoAddNoDelete:
    """For rows the system creates and keeps (with the account, by a command, by the monitor): people
    may change what their role allows, never add or delete one in the admin. A mixin, for model admins
    and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnly(NoAddNoDelete):
    """For rows the system writes: visible, never added, changed or deleted in the admin."""

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


# An ISO 8601 time with its offset, as the stored records (decision trace, event data) hold them
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)")


def in_local_time(value):
    """``value`` with every aware time (object or ISO string) in Asia/Seoul, so a stored record reads as KST."""
    if isinstance(value, dict):
        return {k: in_local_time(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [in_local_time(v) for v in value]
    if isinstance(value, str) and ISO_TIME.fullmatch(value):
        value = parse_datetime(value) or value
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return value


def pretty_json(value) -> str:
    """A stored record as indented JSON, its times in Asia/Seoul (``+09:00``)."""
    return format_html(
        "<pre style='white-space:pre-wrap;max-width:70em'>{}</pre>",
        json.dumps(in_local_time(value), ensure_ascii=False, indent=2, default=str),
    )


# The policy engine's gates, by the code the decision trace stores.
GATE_LABELS = {
    "switch_and_mode": _("자동화 스위치와 모드"),
    "account": _("계정 활성·잠금"),
    "risk_keywords": _("위험 키워드"),
    "intent_allowlist": _("허용 의도"),
    "confidence": _("신뢰도 기준값"),
    "business_hours": _("영업시간"),
    "daily_quota": _("일일 한도"),
    "answer_checks": _("답변 점검"),
}
# Pass/fail as words and colour as well as a sign: the sign alone is an empty box without an emoji font.
VERDICT_STYLES = {"pass": "#2e7d32", "warn": "#a15c00", "fail": "#ba2121"}
VERDICT_SIGNS = {"pass": "✓", "warn": "!", "fail": "✗"}


def verdict(state: str, label=None) -> str:
    """A coloured sign and word for ``pass``, ``warn`` or ``fail`` (the word defaults to 통과/주의/실패)."""
    words = {"pass": _("통과"), "warn": _("주의"), "fail": _("실패")}
    return format_html(
        '<strong class="verdict verdict-{}" style="color:{}">{} {}</strong>',
        state,
        VERDICT_STYLES[state],
        VERDICT_SIGNS[state],
        label if label is not None else words[state],
    )


def gate_label(code: str) -> str:
    return str(GATE_LABELS.get(code, code))


def gates_table(details: dict) -> str:
    """The decision trace's gates as a table: order, gate, verdict, detail."""
    gates = (details or {}).get("gates") or []
    if not gates:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (i + 1, gate_label(g.get("gate", "")), verdict("pass" if g.get("passed") else "fail"), g.get("detail", ""))
            for i, g in enumerate(gates)
        ),
    )
    return format_html(
        "<table><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("게이트"),
        _("결과"),
        _("내용"),
        rows,
    )


class LargeTablePaginator(Paginator):
    """A paginator for tables of millions of rows: no ``COUNT(*)`` over all of them on every page.

    It counts exactly up to :attr:`exact_limit` rows (``SELECT COUNT(*) FROM (… LIMIT n)``, which stops
    early); beyond that, on PostgreSQL, it takes the planner's row estimate for the same query (an
    ``EXPLAIN``, no scan), never less than the exact lower bound. Small and filtered-down lists show the
    exact count; only lists of more than ``exact_limit`` rows show an estimate.
    """

    exact_limit = 10_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not isinstance(qs, QuerySet):
            return super().count
        exact = qs.order_by()[: self.exact_limit + 1].count()
        if exact <= self.exact_limit:
            return exact
        from django.db import connections

        connection = connections[qs.db]
        if connection.vendor != "postgresql":
            return qs.count()
        sql, params = qs.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return max(estimate, exact)


FACT_SOURCES = {
    "order": _("주문"),
    "order_lookup": _("주문 조회"),
    "shipping_policy": _("배송 정책"),
    "product_knowledge": _("상품 지식"),
    "knowledge_entry": _("답변 지식"),
}


def _fact_source(source: object) -> object:
    """The name of a fact's source, or the source as given when it is not one of :data:`FACT_SOURCES`."""
    return FACT_SOURCES.get(source, source) if isinstance(source, str) else source


def facts_table(facts: list[dict] | None) -> str:
    """The facts behind a draft (the agent's ``facts``): source, id, when we had it, what it says."""
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    if not facts:
        return str(_("없음: 이 초안에는 근거 사실이 없습니다."))

    def when(value):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        return timezone.localtime(parsed).strftime("%Y-%m-%d %H:%M") if parsed else (value or "-")

    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                _fact_source(f.get("source")),
                f.get("id", ""),
                when(f.get("fetched_at")),
                f.get("detail", ""),
            )
            for f in facts
        ),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("출처"),
        _("ID"),
        _("가져온 시각"),
        _("내용"),
        rows,
    )
