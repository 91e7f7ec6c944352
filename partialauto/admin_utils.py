"""Small admin helpers shared by the apps' admin modules."""

from __future__ import annotations

import json

from django.contrib import admin
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
