"""Exponential back-off: one formula for every retry in the product (sends, 429s, notifications)."""

from __future__ import annotations

import random


def exponential(attempt: int, *, base: float, cap: float) -> float:
    """The ceiling for the ``attempt``-th retry (1-based): base, 2·base, 4·base … never above ``cap``."""
    return min(cap, base * 2 ** max(attempt - 1, 0))


def jittered(
    attempt: int, *, base: float, cap: float, at_least: float = 0.0, low: float = 0.5, high: float = 1.0
) -> float:
    """A delay drawn between ``low`` and ``high`` times the ceiling (so retries of many rows or
    clients spread out), never sooner than ``at_least`` (e.g. what a server asked for). The default,
    the upper half of the ceiling, never comes back much sooner than the ceiling."""
    ceiling = exponential(attempt, base=base, cap=cap)
    return max(random.uniform(ceiling * low, ceiling * high), at_least)
