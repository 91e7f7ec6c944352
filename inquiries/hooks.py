"""What the inquiries layer needs from the layer above it, passed in as callables (DESIGN 1.2:
``markets`` ← ``inquiries`` ← ``policy``; nothing here imports ``policy``).

The policy app registers its answers when it is ready (``policy.apps``). Until then the defaults hold,
and they are the safe ones: no editable keywords (the agent's built-in safety floor still applies), the
offline rules backend, and every approved answer reported as held."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

# (term, category, variants) rows of the editable keyword list, for the given categories.
KeywordRows = Callable[[tuple[str, ...]], Iterable[tuple[str, str, object]]]


def _no_keywords(categories: tuple[str, ...]) -> list[tuple[str, str, object]]:
    return []


def _no_backend() -> str | None:
    return None


def _held(inquiry_id: int) -> bool:
    return True


@dataclass
class Hooks:
    # The active risk and needs-a-person keywords (editable in the admin).
    keyword_rows: KeywordRows = _no_keywords
    # The agent backend the settings choose (None: no settings saved yet).
    agent_backend: Callable[[], str | None] = _no_backend
    # Whether test mode or an emergency stop holds a person's approved answer back right now.
    approved_answer_held: Callable[[int], bool] = _held


hooks = Hooks()


def register(
    *,
    keyword_rows: KeywordRows,
    agent_backend: Callable[[], str | None],
    approved_answer_held: Callable[[int], bool],
) -> None:
    hooks.keyword_rows = keyword_rows
    hooks.agent_backend = agent_backend
    hooks.approved_answer_held = approved_answer_held
