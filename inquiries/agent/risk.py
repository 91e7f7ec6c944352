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
from collections.abc import Iterable, Iterator, Sequence
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
# Between the letters of an abuse word: up to four masking characters (시1발, 씨**발, ㅅ.ㅂ) …
_TIGHT_GAP = r"\*{0,4}"
_SPACED_GAP = r"[*\s]{0,4}"  # … where the variant itself has a space, spaces too …
# … and for the letter-spaced form (씨 발), a space in every gap. Removing the spaces turns a spread
# match into a tight one (at most four masks per gap), which is what the prefilter relies on.
_SPREAD_GAP = r"\*{0,2}\s[*\s]{0,2}"
_SYLLABLE = re.compile("[가-힣]")


class RiskCategory(StrEnum):
    LEGAL = "LEGAL"  # 고소, 소송, 변호사, 내용증명 …
    REGULATOR = "REGULATOR"  # 소비자원, 공정위, 식약처 …
    CLAIM = "CLAIM"  # 클레임, 보상, 배상 …
    SAFETY = "SAFETY"  # injuries, burns, allergies, fire, food poisoning …
    ABUSE = "ABUSE"  # profanity, masked forms included
    PRIVACY = "PRIVACY"  # leaked or posted personal data, requests to delete it
    THREAT = "THREAT"  # going public, review bombing, creators' videos, "I'll come to your office"
    PAYMENT_DISPUTE = "PAYMENT_DISPUTE"  # card-payment disputes, chargebacks
    FRAUD = "FRAUD"  # paying outside the platform, phishing links, "contact me on KakaoTalk"
    DELIVERY_LOSS = "DELIVERY_LOSS"  # delivered to someone else, lost, stolen
    MODEL = "MODEL"  # the learned risk screen fired (no keyword)


class PersonCategory(StrEnum):
    """Requests only a person may grant: not risks, but never answered automatically."""

    PRICE_NEGOTIATION = "PRICE_NEGOTIATION"
    BULK_ORDER = "BULK_ORDER"
    CUSTOM_ORDER = "CUSTOM_ORDER"
    PARTIAL_REFUND = "PARTIAL_REFUND"
    POLICY_EXCEPTION = "POLICY_EXCEPTION"
    MODEL = "MODEL"  # the learned screen fired (no keyword)


RISK_CATEGORIES: tuple[str, ...] = tuple(c.value for c in RiskCategory if c != RiskCategory.MODEL)
PERSON_CATEGORIES: tuple[str, ...] = tuple(c.value for c in PersonCategory if c != PersonCategory.MODEL)


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
    # ABUSE only. Each syllable may fall back to its initial consonant, so a match made only of jamo
    # is accepted only when it spells a variant written without syllables (ㅅㅂ, ㄱㅅㄲ, tlqkf):
    # "ㄱㅅ" (= 감사) must not pass as 개새.
    syllable_free: frozenset[str] | None = None


@dataclass
class _CompiledTerm:
    term: RiskTerm
    masked: bool  # ABUSE terms match on the masked form
    matchers: list[_Matcher] = field(default_factory=list)
    exclusions: list[re.Pattern[str]] = field(default_factory=list)
    # Sources for the group prefilter (see _TermGroup): (regex, runs on the text without spaces).
    prefilter_sources: list[tuple[str, bool]] = field(default_factory=list)


def _skeleton(text: str) -> str:
    return "".join(ch for ch in text if ch not in "* ")


def _abuse_sources(variant: str) -> tuple[str, str | None, str | None]:
    """Tight regex, letter-spaced regex (or None) and, for a variant without syllables, its letters."""
    units: list[str] = []
    gaps: list[str] = []  # gaps[i] sits before units[i + 1]
    letters: list[str] = []
    pending_space = False
    has_syllable = False
    for ch in normalize(variant).match:
        if ch == " ":
            pending_space = bool(units)
            continue
        if ch in _MASK_IN_VARIANT:
            unit = r"\*+"
        elif is_hangul_syllable(ch):
            has_syllable = True
            unit = f"(?:{ch}|{initial_consonant(ch)})"
            letters.append(ch)
        elif ch.isalnum():
            unit = re.escape(ch)
            letters.append(ch)
        else:
            continue
        if units:
            gaps.append(_SPACED_GAP if pending_space else _TIGHT_GAP)
        units.append(unit)
        pending_space = False
    if not units:
        return "", None, None
    tight = units[0] + "".join(gap + unit for gap, unit in zip(gaps, units[1:], strict=True))
    spread = None
    if len(units) > 1:
        spread = r"(?<![가-힣])" + units[0] + "".join(_SPREAD_GAP + unit for unit in units[1:]) + r"(?![가-힣])"
    return tight, spread, None if has_syllable else "".join(letters)


def _abuse_matchers(variants: list[str]) -> tuple[list[_Matcher], list[str]]:
    """One tight and one letter-spaced alternation for all plain variants of an abuse term."""
    tight: list[str] = []
    spread: list[str] = []
    syllable_free: set[str] = set()
    # Python alternation is leftmost-first, not longest: put long variants first so "ㅈ같" is tried
    # before the bare "ㅈ" fallback of "좆" (which the jamo-only check would then reject).
    for variant in sorted(variants, key=lambda v: -len(normalize(v).compact)):
        t, sp, letters = _abuse_sources(variant)
        if not t:
            continue
        tight.append(t)
        if sp:
            spread.append(sp)
        if letters:
            syllable_free.add(letters)
    free = frozenset(syllable_free)
    matchers = [_Matcher(re.compile("|".join(tight)), free)] if tight else []
    if spread:
        matchers.append(_Matcher(re.compile("|".join(spread)), free))
    return matchers, tight


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
    abuse_plain: list[str] = []
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
                abuse_plain.append(body)
            else:
                cp = compile_pattern(body, force_regex=force_regex)
                if cp is not None:
                    plain_or_regex.append(cp)
        except PatternError as exc:
            errors.append(f"{term.term}: {exc}")
    if abuse_plain:
        matchers, tight_sources = _abuse_matchers(abuse_plain)
        compiled.matchers.extend(matchers)
        compiled.prefilter_sources.extend((src, True) for src in tight_sources)
    combined = _combine(plain_or_regex)
    compiled.matchers.extend(combined)
    compiled.prefilter_sources.extend((m.regex.pattern, False) for m in combined)
    return compiled, errors


class RiskScanner:
    """A compiled set of risk terms. Build once per term set (the pipeline caches it per context)."""

    # Drafts repeat (one knowledge entry, many inquiries), so their scans are worth remembering.
    DRAFT_CACHE_SIZE = 2048

    def __init__(self, terms: Iterable[RiskTerm]) -> None:
        self.errors: list[str] = []
        compiled_terms: list[_CompiledTerm] = []
        for term in terms:
            compiled, errors = compile_term(term)
            if errors:
                # A broken variant must not take the whole scan down; the admin validates on save and
                # readiness can show ``errors``. The term's other variants still apply.
                for error in errors:
                    logger.error("risk-pattern-invalid %s", error)
                self.errors.extend(errors)
            if compiled.matchers:
                compiled_terms.append(compiled)
        self._groups = [
            _TermGroup.build([t for t in compiled_terms if not t.masked], masked=False),
            _TermGroup.build([t for t in compiled_terms if t.masked], masked=True),
        ]
        self._size = len(compiled_terms)
        self._cache: dict[tuple[str, str], tuple[RiskHit, ...]] = {}

    def __len__(self) -> int:
        return self._size

    def scan(self, text: NormalizedText | str, *, where: str = WHERE_CUSTOMER) -> list[RiskHit]:
        nt = text if isinstance(text, NormalizedText) else normalize(text)
        if nt.is_empty:
            return []
        hits: list[RiskHit] = []
        for group in self._groups:
            form = nt.masked if group.masked else nt.compact
            # Most inquiries hit nothing: one union search instead of one search per term.
            if not group.may_hit(form):
                continue
            for compiled in group.terms:
                matched = _first_hit(compiled, form)
                if matched is not None:
                    hits.append(RiskHit(compiled.term.term, compiled.term.category, matched, where))
        return hits

    def scan_cached(self, text: str, *, where: str, max_chars: int) -> list[RiskHit]:
        """:meth:`scan` for texts that repeat (drafts)."""
        key = (text, where)
        hits = self._cache.get(key)
        if hits is None:
            if len(self._cache) >= self.DRAFT_CACHE_SIZE:
                self._cache.clear()
            hits = self._cache[key] = tuple(self.scan(normalize(text, max_chars=max_chars), where=where))
        return list(hits)


@dataclass(frozen=True)
class _TermGroup:
    masked: bool
    terms: tuple[_CompiledTerm, ...]
    # Unions of every term's matchers: a necessary condition for any hit in the group. The abuse
    # words' tight forms run on the text without spaces (a letter-spaced "씨 발" is then a tight hit),
    # everything else on the form itself. ``None`` means "no prefilter, scan every term".
    prefilters: tuple[tuple[re.Pattern[str], bool], ...] | None

    @classmethod
    def build(cls, terms: list[_CompiledTerm], *, masked: bool) -> _TermGroup:
        prefilters: list[tuple[re.Pattern[str], bool]] = []
        for nospace in (True, False):
            sources = [src for t in terms for src, ns in t.prefilter_sources if ns is nospace]
            if not sources:
                continue
            # Alternatives that start with a letter go in one union with nothing around them: the regex
            # engine then skips every position whose character starts none of them (most of a text);
            # the rest (a group, a class, an assertion first) go in a second union.
            alternatives = [e for src in sources for alt in _top_level_alternatives(src) for e in _distributed(alt)]
            # (ASCII letters apart: with IGNORECASE a cased first letter turns the skipping off.)
            hangul = [a for a in alternatives if a[:1].isalnum() and not a[:1].isascii()]
            latin = [a for a in alternatives if a[:1].isalnum() and a[:1].isascii()]
            other = [f"(?:{a})" for a in alternatives if not a[:1].isalnum()]
            try:
                for union in (hangul, latin, other):
                    if union:
                        prefilters.append((re.compile("|".join(union), re.IGNORECASE), nospace))
            except re.error:  # a variant with global inline flags cannot be embedded: scan term by term
                return cls(masked=masked, terms=tuple(terms), prefilters=None)
        return cls(masked=masked, terms=tuple(terms), prefilters=tuple(prefilters))

    def may_hit(self, form: str) -> bool:
        if self.prefilters is None:
            return True
        nospace = form.replace(" ", "")
        return any(p.search(nospace if ns else form) for p, ns in self.prefilters)


def _structure(source: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, depth) of every ``(``, ``)`` and ``|`` of a pattern that is not escaped or in
    a character class; depth is the nesting outside the character (for ``)``: after it closes)."""
    depth, i, in_class = 0, 0, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if source[i + 1 : i + 2] == "]":  # a "]" first in a class is a literal
                i += 1
        elif ch == "(":
            yield i, ch, depth
            depth += 1
        elif ch == ")":
            depth -= 1
            yield i, ch, depth
        elif ch == "|":
            yield i, ch, depth
        i += 1


def _top_level_alternatives(source: str) -> list[str]:
    """``source`` split at its top-level ``|`` (outside groups and classes), each alternative without
    a single group around all of it: ``(?:a)|(?:b(?:c|d))`` → ``a``, ``b(?:c|d)``. An alternative that
    is not one whole group stays as it is; an inline flag keeps the source whole."""
    if source.startswith("(?") and source[2:3] not in (":", "=", "!", "<"):
        return [source]
    cuts = [i for i, ch, depth in _structure(source) if ch == "|" and depth == 0]
    bounds = zip([-1, *cuts], [*cuts, len(source)], strict=True)
    return [_unwrapped(source[start + 1 : end]) for start, end in bounds]


def _group_end(source: str) -> int:
    """The index of the ``)`` closing the group ``source`` starts with; -1 when there is none."""
    return next((i for i, ch, depth in _structure(source) if ch == ")" and depth == 0), -1)


def _distributed(alternative: str, limit: int = 64) -> list[str]:
    """``(?:a|b)c`` → ``ac``, ``bc`` (the same strings match), repeatedly while an alternative starts
    with such a group: alternatives that start with a letter can be skipped to quickly. A group with a
    quantifier after it, or too many expansions, stays as it is."""
    if not alternative.startswith("(?:"):
        return [alternative]
    end = _group_end(alternative)
    rest = alternative[end + 1 :] if end > 0 else ""
    if end <= 0 or rest[:1] in ("?", "*", "+", "{"):
        return [alternative]
    inner = _top_level_alternatives(alternative[3:end])
    if len(inner) > limit or any(not part for part in inner):
        return [alternative]
    out = [e for part in inner for e in _distributed(part + rest, limit)]
    return out if len(out) <= limit else [alternative]


def _unwrapped(alternative: str) -> str:
    """``(?:x)`` → ``x`` when the group spans the whole alternative and has no top-level ``|``."""
    if not (alternative.startswith("(?:") and alternative.endswith(")")):
        return alternative
    if _group_end(alternative) != len(alternative) - 1:
        return alternative  # the first group closes before the end: not one whole group
    if any(ch == "|" and depth == 1 for _i, ch, depth in _structure(alternative)):
        return alternative  # an alternation inside: unwrapping would change its meaning
    return alternative[3:-1]


def _first_hit(compiled: _CompiledTerm, form: str) -> str | None:
    excluded_spans: list[tuple[int, int]] | None = None
    for matcher in compiled.matchers:
        for m in matcher.regex.finditer(form):
            text = m.group(0)
            if not text.strip(" *"):
                continue
            if (
                matcher.syllable_free is not None
                and not _SYLLABLE.search(text)
                and _skeleton(text) not in matcher.syllable_free
            ):
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
