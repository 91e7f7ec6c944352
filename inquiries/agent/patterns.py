"""The one pattern syntax ops write in the admin (intent patterns, KB keywords, risk variants).

* ``키워드`` — a plain keyword. It is matched on the *compact* form (no spaces, no punctuation,
  lower-case), so ``언제 와요``, ``언제와요`` and ``언제 와요?!`` are the same keyword.
* ``re:정규식`` — a Python regular expression, also run on the compact form (so write it without
  spaces: ``re:언제.{0,3}(와|오)``). Case-insensitive.
* ``!…`` — (risk keywords only) an exclusion: a plain keyword or ``!re:…`` marking an innocent
  context; a risk hit overlapping an exclusion is dropped (``!고소한맛``).

Keeping the syntax this small is deliberate: it is what a CS lead can edit safely, and
:func:`validate_pattern` gives the admin a message to show before a broken regex is saved.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from inquiries.agent.normalize import normalize_pattern

REGEX_PREFIX = "re:"
EXCLUDE_PREFIX = "!"
# Regexes ops write run on every inquiry; a bound on their size keeps a pasted essay out.
MAX_PATTERN_CHARS = 500


logger = logging.getLogger("partialauto.agent")


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message is safe to show to ops."""


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    source: str  # as written by ops, shown in traces ("matched patterns")
    regex: re.Pattern[str]
    is_regex: bool
    # Plain keywords: the compact keyword itself ("" for regexes). Callers test ``literal in text``
    # before running the regex — a C substring check, which is what keeps the agent fast.
    literal: str

    @property
    def literal_len(self) -> int:
        """Specificity of a plain keyword (its compact length); 0 for regexes."""
        return len(self.literal)

    def may_match(self, text: str) -> bool:
        return not self.literal or self.literal in text


def split_exclusion(source: str) -> tuple[bool, str]:
    """``("!고소한맛")`` → ``(True, "고소한맛")``."""
    stripped = source.strip()
    if stripped.startswith(EXCLUDE_PREFIX):
        return True, stripped[len(EXCLUDE_PREFIX) :].strip()
    return False, stripped


def compile_pattern(source: str, *, force_regex: bool = False) -> CompiledPattern | None:
    """Compile one pattern; ``None`` when it is empty after normalisation.

    Raises :class:`PatternError` for an invalid or oversized regex.
    """
    source = (source or "").strip()
    if not source:
        return None
    if len(source) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    if force_regex or source.startswith(REGEX_PREFIX):
        body = source[len(REGEX_PREFIX) :] if source.startswith(REGEX_PREFIX) else source
        if not body.strip():
            return None
        try:
            regex = re.compile(body, re.IGNORECASE)
        except re.error as exc:
            raise PatternError(f"invalid regular expression {body!r}: {exc}") from None
        return CompiledPattern(source=source, regex=regex, is_regex=True, literal="")
    literal = normalize_pattern(source)
    if not literal:
        return None
    return CompiledPattern(source=source, regex=re.compile(re.escape(literal)), is_regex=False, literal=literal)


def compile_patterns(sources, *, owner: str, errors: list[str], log_event: str) -> list[CompiledPattern]:
    """Compile an ops-edited pattern list; a broken pattern is logged, reported in ``errors`` and skipped."""
    compiled: list[CompiledPattern] = []
    for source in sources:
        try:
            cp = compile_pattern(source)
        except PatternError as exc:
            logger.error("%s owner=%s %s", log_event, owner, exc)
            errors.append(f"{owner}: {exc}")
            continue
        if cp is not None:
            compiled.append(cp)
    return compiled


def validate_pattern(source: str) -> str | None:
    """An error message for the admin, or ``None`` when the pattern is fine."""
    _excluded, body = split_exclusion(source)
    try:
        compile_pattern(body)
    except PatternError as exc:
        return str(exc)
    return None
