"""Template tags of the operations pages."""

from __future__ import annotations

from django import template

from partialauto import admin_utils
from policy import engine

register = template.Library()


@register.simple_tag
def verdict(state: str, label: str | None = None) -> str:
    """Pass/fail/warn as a coloured sign and word (``{% verdict "fail" _("잠김") %}``), never a sign alone."""
    return admin_utils.verdict(state, label)


@register.filter
def mode_label(mode: str) -> str:
    """``SHADOW``/``TEST``/``LIVE`` as a person reads it."""
    return engine.mode_label(mode)
