"""Risk keyword scan: legal threats, regulators, claims, safety, abuse, privacy, public threats.

A risk hit always means a person answers; the scan runs on the customer's text *and* on the draft.

How a :class:`RiskTerm` matches (the admin edits the same data as ``policy.RiskKeyword``):

* the **term** is matched as a plain keyword, space-insensitively (``소비자원`` catches
  ``소비자원에``, ``소 비 자 원``). A term ending in ``~`` (``고소~``) is a *stem label*: the bare stem
  is too ambiguous (``고소한 맛`` is savoury, ``가볍고 소재`` is two words), so only its variants count;
* each **variant** adds an expression caught together with the term: a plain keyword, or ``re:`` and
  a regex (typically a stem plus the conjugations that carry the risky meaning:
  ``re:고소(?:하겠|할게|합니다|장|당)``);
* a variant starting with ``!`` is an **exclusion** (negative context): a hit overlapping it is dropped
  (``!re:(?:통관|분실)신고`` keeps ``통관 신고`` and ``분실 신고`` out of the legal bucket).

Everything above runs on the compact form (no spaces or punctuation). **ABUSE** terms run on the
jamo-aware *masked* form instead (see :mod:`inquiries.agent.normalize`): each syllable of a plain
variant also matches its initial consonant (``씨발`` → ``ㅆ발``, ``씨ㅂ``), masking characters
(``시1발``, ``씨X``, ``ㅅ.ㅂ``) are allowed between letters, and letter-spaced forms (``씨 발``) are
accepted only when they stand alone — so ``아저씨 발 사이즈`` is not profanity.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from inquiries.agent.normalize import NormalizedText, initial_consonant, is_hangul_syllable, normalize
from inquiries.agent.patterns import (
    REGEX_PREFIX,
    CompiledPattern,
    PatternError,
    compile_pattern,
    split_exclusion,
)

logger = logging.getLogger("partialauto.agent")

STEM_MARKER = "~"
WHERE_CUSTOMER = "customer"
WHERE_TITLE = "title"
WHERE_DRAFT = "draft"

_MASK_IN_VARIANT = frozenset("x*0123456789")
_TIGHT_GAP = r"[*.]{0,3}"
_SPACED_GAP = r"[*.\s]{0,3}"
_SPREAD_GAP = r"[*.]{0,2}\s[*.\s]{0,3}"
_SYLLABLE = re.compile("[가-힣]")


class RiskCategory(StrEnum):
    LEGAL = "LEGAL"  # 고소, 소송, 변호사, 내용증명 …
    REGULATOR = "REGULATOR"  # 소비자원, 공정위, 식약처 …
    CLAIM = "CLAIM"  # 클레임, 보상, 배상 …
    SAFETY = "SAFETY"  # injuries, burns, allergies, fire, food poisoning …
    ABUSE = "ABUSE"  # profanity, masked forms included
    PRIVACY = "PRIVACY"  # leaked or posted personal data
    THREAT = "THREAT"  # going public, review bombing, "I'll come to your office"


RISK_CATEGORIES: tuple[str, ...] = tuple(c.value for c in RiskCategory)


@dataclass(frozen=True)
class RiskTerm:
    term: str
    category: str
    variants: Sequence[str] = ()
    is_regex: bool = False  # the term itself (and unprefixed variants) are regexes

    def __post_init__(self) -> None:
        # Stored as a tuple so terms hash (compiled scanners are cached per term set).
        object.__setattr__(self, "variants", tuple(v for v in (self.variants or ()) if isinstance(v, str)))

    @property
    def is_stem_label(self) -> bool:
        return self.term.strip().endswith(STEM_MARKER)


@dataclass(frozen=True, slots=True)
class RiskHit:
    term: str
    category: str
    matched: str
    where: str

    def as_dict(self) -> dict[str, str]:
        return {"term": self.term, "category": self.category, "matched": self.matched, "where": self.where}


@dataclass(frozen=True, slots=True)
class _Matcher:
    regex: re.Pattern[str]
    need_syllable: bool = False  # reject matches made only of jamo (ㄱㅅ = 감사, not 개새)
    spread: bool = False  # letter-spaced form: must stand alone


@dataclass
class _CompiledTerm:
    term: RiskTerm
    masked: bool  # ABUSE terms match on the masked form
    matchers: list[_Matcher] = field(default_factory=list)
    exclusions: list[re.Pattern[str]] = field(default_factory=list)


def _abuse_matchers(variant: str) -> list[_Matcher]:
    """Jamo-aware, mask-tolerant regexes for one plain abuse variant (see module docstring)."""
    units: list[str] = []
    gaps: list[str] = []  # gaps[i] sits before units[i + 1]
    pending_space = False
    need_syllable = False
    for ch in normalize(variant).match:
        if ch == " ":
            pending_space = bool(units)
            continue
        if ch in _MASK_IN_VARIANT:
            unit = r"\*+"
        elif is_hangul_syllable(ch):
            need_syllable = True
            unit = f"(?:{ch}|{initial_consonant(ch)})"
        elif ch.isalnum():
            unit = re.escape(ch)
        else:
            continue
        if units:
            gaps.append(_SPACED_GAP if pending_space else _TIGHT_GAP)
        units.append(unit)
        pending_space = False
    if not units:
        return []
    tight = units[0] + "".join(gap + unit for gap, unit in zip(gaps, units[1:]))
    matchers = [_Matcher(re.compile(tight), need_syllable=need_syllable)]
    if len(units) > 1:
        spread = r"(?<![가-힣])" + units[0] + "".join(_SPREAD_GAP + unit for unit in units[1:]) + r"(?![가-힣])"
        matchers.append(_Matcher(re.compile(spread), need_syllable=need_syllable, spread=True))
    return matchers


def _compile_exclusion(body: str, *, masked: bool) -> re.Pattern[str] | None:
    if masked and not body.startswith(REGEX_PREFIX):
        literal = normalize(body).masked
        return re.compile(re.escape(literal)) if literal else None
    compiled = compile_pattern(body)
    return compiled.regex if compiled else None


def _combine(patterns: list[CompiledPattern]) -> list[_Matcher]:
    """One alternation per term where possible: a term costs one regex search, not one per variant."""
    if not patterns:
        return []
    try:
        combined = re.compile("|".join(f"(?:{p.regex.pattern})" for p in patterns), re.IGNORECASE)
    except re.error:  # e.g. a variant with its own global inline flags
        return [_Matcher(p.regex) for p in patterns]
    return [_Matcher(combined)]


def compile_term(term: RiskTerm) -> tuple[_CompiledTerm, list[str]]:
    """Compile one term; returns it with a list of problems (bad regexes) for the admin/log."""
    masked = term.category == RiskCategory.ABUSE
    compiled = _CompiledTerm(term=term, masked=masked)
    errors: list[str] = []
    sources: list[tuple[str, bool]] = []
    if not term.is_stem_label:
        sources.append((term.term, term.is_regex))
    sources.extend((variant, term.is_regex) for variant in term.variants)

    plain_or_regex: list[CompiledPattern] = []
    for source, force_regex in sources:
        excluded, body = split_exclusion(source)
        if not body:
            continue
        try:
            if excluded:
                pattern = _compile_exclusion(body, masked=masked)
                if pattern is not None:
                    compiled.exclusions.append(pattern)
            elif masked and not (force_regex or body.startswith(REGEX_PREFIX)):
                compiled.matchers.extend(_abuse_matchers(body))
            else:
                cp = compile_pattern(body, force_regex=force_regex)
                if cp is not None:
                    plain_or_regex.append(cp)
        except PatternError as exc:
            errors.append(f"{term.term}: {exc}")
    compiled.matchers.extend(_combine(plain_or_regex))
    return compiled, errors


class RiskScanner:
    """A compiled set of risk terms. Build once per term set (the pipeline caches it per context)."""

    def __init__(self, terms: Iterable[RiskTerm]) -> None:
        self._terms: list[_CompiledTerm] = []
        self.errors: list[str] = []
        for term in terms:
            compiled, errors = compile_term(term)
            if errors:
                # A broken variant must not take the whole scan down; the admin validates on save and
                # readiness can show ``errors``. The term's other variants still apply.
                for error in errors:
                    logger.error("risk-pattern-invalid %s", error)
                self.errors.extend(errors)
            if compiled.matchers:
                self._terms.append(compiled)

    def __len__(self) -> int:
        return len(self._terms)

    def scan(self, text: NormalizedText | str, *, where: str = WHERE_CUSTOMER) -> list[RiskHit]:
        nt = text if isinstance(text, NormalizedText) else normalize(text)
        if nt.is_empty:
            return []
        hits: list[RiskHit] = []
        for compiled in self._terms:
            form = nt.masked if compiled.masked else nt.compact
            matched = _first_hit(compiled, form)
            if matched is not None:
                hits.append(RiskHit(compiled.term.term, compiled.term.category, matched, where))
        return hits


def _first_hit(compiled: _CompiledTerm, form: str) -> str | None:
    excluded_spans: list[tuple[int, int]] | None = None
    for matcher in compiled.matchers:
        for m in matcher.regex.finditer(form):
            text = m.group(0)
            if not text.strip(" *."):
                continue
            if matcher.need_syllable and not _SYLLABLE.search(text):
                continue
            if excluded_spans is None:  # computed only when something matched
                excluded_spans = [x.span() for ex in compiled.exclusions for x in ex.finditer(form)]
            start, end = m.span()
            if any(start < b and a < end for a, b in excluded_spans):
                continue
            return text.strip()
    return None


@lru_cache(maxsize=16)
def _scanner_for(terms: tuple[RiskTerm, ...]) -> RiskScanner:
    return RiskScanner(terms)


def scanner_for(terms: Iterable[RiskTerm]) -> RiskScanner:
    """A compiled scanner, shared by every caller passing the same terms."""
    return _scanner_for(tuple(terms))


def scan(text: NormalizedText | str, terms: Iterable[RiskTerm], *, where: str = WHERE_CUSTOMER) -> list[RiskHit]:
    """Scan ``text`` for ``terms``; see the module docstring for the matching rules."""
    return scanner_for(terms).scan(text, where=where)

