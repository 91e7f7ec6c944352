"""Rules intent classifier.

Each intent has ops-editable patterns (:mod:`inquiries.agent.patterns`). Scoring is deliberately
simple so ops can predict it from the admin:

* every distinct pattern that matches adds ``0.5 + 0.25 × length`` (capped at 2.0), so a specific
  phrase (``반품배송비``, 5 chars → 1.75) outweighs a bare noun (``배송``, 2 chars → 1.0); a match lying
  inside a longer match of the same intent adds nothing (``적립금`` and ``적립`` are one piece of evidence);
* a match in the last part of the text counts up to 30 % more: Korean puts the actual ask at the
  end (``반품했는데 환불은 언제 돼요?`` is about the refund);
* the rule's weight multiplies the sum.

The dominant intent wins; when the runner-up has at least :data:`MIXED_RATIO` of the winner's score
the inquiry is ``mixed`` (two topics), which lowers confidence. No match at all → ``기타`` with score 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from inquiries.agent.normalize import NormalizedText, normalize
from inquiries.agent.patterns import CompiledPattern, compile_patterns

INTENTS: tuple[str, ...] = ("배송문의", "사용법", "상품문의", "교환반품", "환불", "주문취소", "재입고", "기타")
FALLBACK_INTENT = "기타"

MIXED_RATIO = 0.6
MIXED_MIN_SCORE = 1.0
_MAX_PATTERN_SCORE = 2.0
_RECENCY_BONUS = 0.3


@dataclass(frozen=True)
class IntentRule:
    intent: str
    patterns: Sequence[str]
    weight: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(p for p in (self.patterns or ()) if isinstance(p, str)))


@dataclass(frozen=True)
class Classification:
    intent: str
    score: float
    runner_up: str | None
    runner_up_score: float
    margin: float  # (top − runner-up) / top; 0 when nothing matched
    mixed: bool
    matched: dict[str, list[str]] = field(default_factory=dict)  # intent → patterns (as written)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def matched_anything(self) -> bool:
        return self.score > 0

    def as_dict(self) -> dict:
        return {
            "intent": self.intent,
            "score": round(self.score, 3),
            "runner_up": self.runner_up,
            "runner_up_score": round(self.runner_up_score, 3),
            "margin": round(self.margin, 3),
            "mixed": self.mixed,
            "matched": {k: v[:8] for k, v in self.matched.items()},
        }


@dataclass(frozen=True)
class _CompiledRule:
    intent: str
    weight: float
    # Plain keywords are pre-checked with a substring test in one comprehension; only the few that
    # occur (and the regexes) pay for a regex pass.
    literals: tuple[tuple[str, CompiledPattern], ...]
    regexes: tuple[CompiledPattern, ...]
    # All of the rule's regexes in one alternation: when it finds nothing, none of them can match and
    # the per-regex passes are skipped. ``None``: no such shortcut, run every regex.
    regex_union: re.Pattern[str] | None = None

    @classmethod
    def build(cls, intent: str, weight: float, patterns: list[CompiledPattern]) -> _CompiledRule:
        regexes = tuple(p for p in patterns if not p.literal)
        return cls(
            intent,
            weight,
            tuple((p.literal, p) for p in patterns if p.literal),
            regexes,
            _union(regexes),
        )


# Group references (\1, (?P=name), (?(1)…)) would point at another alternative's groups once the
# regexes are joined; such rules keep running each regex on its own.
_GROUP_REFERENCE = re.compile(r"\\[0-9]|\(\?P=|\(\?\(")


def _union(regexes: tuple[CompiledPattern, ...]) -> re.Pattern[str] | None:
    if len(regexes) < 2 or any(_GROUP_REFERENCE.search(p.regex.pattern) for p in regexes):
        return None
    if any(p.regex.flags & ~(re.IGNORECASE | re.UNICODE) for p in regexes):
        return None
    try:
        return re.compile("|".join(f"(?:{p.regex.pattern})" for p in regexes), re.IGNORECASE)
    except re.error:  # e.g. inline global flags, only allowed at the very start of a pattern
        return None


def _pattern_strength(pattern: CompiledPattern, matched_len: int) -> float:
    length = pattern.literal_len or matched_len
    return min(0.5 + 0.25 * length, _MAX_PATTERN_SCORE)


class IntentClassifier:
    def __init__(self, rules: Iterable[IntentRule]) -> None:
        self.errors: list[str] = []
        compiled: list[_CompiledRule] = []
        for rule in rules:
            patterns = compile_patterns(
                rule.patterns, owner=rule.intent, errors=self.errors, log_event="intent-pattern-invalid"
            )
            compiled.append(_CompiledRule.build(rule.intent, float(rule.weight), patterns))
        self._rules = tuple(compiled)
        self.intents: tuple[str, ...] = tuple(dict.fromkeys(r.intent for r in compiled))
        self._literals = _LiteralIndex(compiled)

    def classify(self, text: NormalizedText | str) -> Classification:
        nt = text if isinstance(text, NormalizedText) else normalize(text)
        compact = nt.compact
        present = self._literals.present(compact)
        scores: dict[str, float] = {}
        matched: dict[str, list[str]] = {}
        for index, rule in enumerate(self._rules):
            if not rule.regexes and index not in present:
                continue  # none of its keywords occurs: nothing to score
            total, sources = _score_rule(rule, compact, present.get(index, ()))
            if total:
                scores[rule.intent] = scores.get(rule.intent, 0.0) + total * rule.weight
                matched.setdefault(rule.intent, []).extend(sources)
        return _decide(scores, matched)


class _LiteralIndex:
    """Which plain keywords occur in a text, found in one pass over the text.

    Every intent has dozens of keywords; testing each with ``in`` costs a Python step per keyword per
    inquiry. Instead the keywords are indexed by their first two characters: one dictionary look-up per
    position of the text finds the few that can start there. The result is exactly the set the
    ``literal in text`` test gives, and each rule's present keywords keep the rule's own order (the
    scoring's tie-breaks depend on it).
    """

    def __init__(self, rules: Sequence[_CompiledRule]) -> None:
        owners: dict[str, list[tuple[int, int, CompiledPattern]]] = {}
        for rule_index, rule in enumerate(rules):
            for order, (literal, pattern) in enumerate(rule.literals):
                owners.setdefault(literal, []).append((rule_index, order, pattern))
        self._owners = owners
        self._single = tuple(literal for literal in owners if len(literal) == 1)
        by_prefix: dict[str, list[str]] = {}
        for literal in owners:
            if len(literal) > 1:
                by_prefix.setdefault(literal[:2], []).append(literal)
        self._by_prefix = {prefix: tuple(literals) for prefix, literals in by_prefix.items()}

    def present(self, text: str) -> dict[int, tuple[CompiledPattern, ...]]:
        """Rule index → the rule's keywords occurring in ``text``, in the rule's order."""
        found = {literal for literal in self._single if literal in text}
        get = self._by_prefix.get
        for i in range(len(text) - 1):
            literals = get(text[i : i + 2])
            if literals:
                for literal in literals:
                    if text.startswith(literal, i):
                        found.add(literal)
        hits: dict[int, list[tuple[int, CompiledPattern]]] = {}
        for literal in found:
            for rule_index, order, pattern in self._owners[literal]:
                hits.setdefault(rule_index, []).append((order, pattern))
        return {
            rule_index: tuple(p for _order, p in sorted(found_, key=itemgetter(0)))
            for rule_index, found_ in hits.items()
        }


def _score_rule(rule: _CompiledRule, compact: str, present: Sequence[CompiledPattern]) -> tuple[float, list[str]]:
    """Sum the strengths of the rule's matching patterns (``present``: its plain keywords that occur).

    A match lying inside a longer match already counted for the same intent adds nothing: ``적립금``
    and ``적립`` on the same word are one piece of evidence, not two.
    """
    size = max(len(compact), 1)
    candidates: list[tuple[float, int, int, str]] = []
    regexes = rule.regexes if rule.regex_union is None or rule.regex_union.search(compact) else ()
    for pattern in (*present, *regexes):
        for m in pattern.regex.finditer(compact):
            start, end = m.span()
            if end == start:
                continue  # an empty regex match says nothing
            recency = 1.0 + _RECENCY_BONUS * (end / size)
            candidates.append((_pattern_strength(pattern, end - start) * recency, start, end, pattern.source))
    # Longest spans first, so the containment check sees the specific phrase before its parts.
    candidates.sort(key=lambda c: (-(c[2] - c[1]), -c[0]))
    counted: list[tuple[int, int]] = []
    best: dict[str, float] = {}
    for strength, start, end, source in candidates:
        if any(a <= start and end <= b for a, b in counted):
            continue
        counted.append((start, end))
        best[source] = max(best.get(source, 0.0), strength)
    return sum(best.values()), list(best)


def _decide(scores: dict[str, float], matched: dict[str, list[str]]) -> Classification:
    # Ties go to the earlier intent in the default order (stable and predictable for ops).
    order = {name: index for index, name in enumerate(INTENTS)}
    ranked = sorted(((s, i) for i, s in scores.items() if s > 0), key=lambda pair: (-pair[0], order.get(pair[1], 99)))
    if not ranked:
        return Classification(FALLBACK_INTENT, 0.0, None, 0.0, 0.0, False, matched, scores)
    top_score, top = ranked[0]
    runner_score, runner = ranked[1] if len(ranked) > 1 else (0.0, None)
    margin = (top_score - runner_score) / top_score
    mixed = runner is not None and runner_score >= MIXED_MIN_SCORE and runner_score >= MIXED_RATIO * top_score
    return Classification(top, top_score, runner, runner_score, margin, mixed, matched, scores)


@lru_cache(maxsize=16)
def _classifier_for(rules: tuple[IntentRule, ...]) -> IntentClassifier:
    return IntentClassifier(rules)


def classifier_for(rules: Iterable[IntentRule]) -> IntentClassifier:
    return _classifier_for(tuple(rules))


def classify(text: NormalizedText | str, rules: Iterable[IntentRule]) -> Classification:
    return classifier_for(rules).classify(text)
