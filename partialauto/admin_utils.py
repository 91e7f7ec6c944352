"""Small admin helpers shared by the apps' admin modules."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows the system writes: visible, never added, changed or deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def pretty_json(value) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:70em'>{}</pre>",
                       json.dumps(value, ensure_ascii=False, indent=2, default=str))


def gates_table(details: dict) -> str:
    """The decision trace's gates as a table: order, gate, verdict, detail."""
    gates = (details or {}).get("gates") or []
    if not gates:
        return "-"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((i + 1, g.get("gate", ""), "✅" if g.get("passed") else "❌", g.get("detail", "")) for i, g in enumerate(gates)),
    )
    return format_html(
        "<table><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("게이트"), _("결과"), _("내용"), rows,
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
        if not hasattr(qs, "query"):
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


class ConfiguredIntentFilter(admin.AllValuesFieldListFilter):
    """The intent filter, with its choices from the intent table (a handful of rows) instead of a
    ``SELECT DISTINCT intent`` over every inquiry. Same parameter (``intent__exact``) as before."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        from inquiries.models import Intent

        self.lookup_choices = list(Intent.objects.order_by("sort_order", "name").values_list("name", flat=True))


FACT_SOURCES = {
    "order": _("주문"),
    "order_lookup": _("주문 조회"),
    "shipping_policy": _("배송 정책"),
    "product_knowledge": _("상품 지식"),
    "knowledge_entry": _("답변 지식"),
}


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
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((FACT_SOURCES.get(f.get("source"), f.get("source")), f.get("id", ""), when(f.get("fetched_at")),
          f.get("detail", "")) for f in facts),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("출처"), _("ID"), _("가져온 시각"), _("내용"), rows,
    )
