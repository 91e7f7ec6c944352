"""Answer knowledge base: pick the entry that answers the inquiry and fill its placeholders.

Selection, for the classified intent:

1. scope — an entry limited to another account or another product never applies;
2. relevance — an entry whose keywords match the inquiry (or that has no keywords: "any question
   of this intent") beats one whose keywords do not;
3. specificity — among relevant entries, product-specific beats account-specific beats general;
4. quality (keyword overlap), then priority, then the order given.

``quality`` is ``1 − 0.5ⁿ`` for n distinct matched keywords (1 → 0.5, 2 → 0.75, 3 → 0.875); an entry
without keywords counts as 0.5. Scoring reads it: no relevant entry means a person answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from inquiries.agent.normalize import NormalizedText, has_final_consonant
from inquiries.agent.patterns import CompiledPattern, compile_patterns

NO_KEYWORD_QUALITY = 0.5
MAX_VALUE_CHARS = 80  # a product name longer than this is trimmed in the draft

# What a placeholder becomes when its value is unknown or empty. Drafts are content (sent to the
# customer as written), so these are plain Korean, not translated UI strings.
PLACEHOLDER_DEFAULTS: Mapping[str, str] = {
    "customer_greeting": "안녕하세요, 고객님.",
    "seller_name": "저희 스토어",
    "product_name": "문의하신 상품",
    "customer_name": "고객",
}

_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(은\(는\)|이\(가\)|을\(를\)|과\(와\)|\(으\)로)?")
_LEFTOVER = re.compile(r"\{\s*[A-Za-z_][A-Za-z0-9_.]*\s*\}")
_SPACES = re.compile(r"[ \t]{2,}")
# Paired particles ops write after a placeholder; the right half follows a vowel ending.
_JOSA = {
    "은(는)": ("은", "는"),
    "이(가)": ("이", "가"),
    "을(를)": ("을", "를"),
    "과(와)": ("과", "와"),
    "(으)로": ("으로", "로"),
}


@dataclass(frozen=True)
class KnowledgeEntry:
    id: str
    intent: str
    title: str
    keywords: Sequence[str]
    body: str
    account_name: str | None = None
    product_id: str | None = None
    priority: int = 0
    states_facts: bool = True  # False: general guidance ("see the manual"), no fact of its own
    updated_at: str | None = None  # ISO time of the last edit (the decision trace's "fetched at")

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(k for k in (self.keywords or ()) if isinstance(k, str)))
        object.__setattr__(self, "id", str(self.id))

    @property
    def specificity(self) -> int:
        return (2 if self.product_id else 0) + (1 if self.account_name else 0)


@dataclass(frozen=True)
class KBMatch:
    entry: KnowledgeEntry
    quality: float
    matched_keywords: tuple[str, ...]

    @property
    def is_relevant(self) -> bool:
        return self.quality >= NO_KEYWORD_QUALITY

    def as_dict(self) -> dict:
        return {
            "entry_id": self.entry.id,
            "title": self.entry.title,
            "quality": round(self.quality, 3),
            "matched_keywords": list(self.matched_keywords[:8]),
            "specificity": self.entry.specificity,
        }


@dataclass(frozen=True)
class _IndexedEntry:
    entry: KnowledgeEntry
    order: int
    keywords: tuple[CompiledPattern, ...]


class KnowledgeBase:
    def __init__(self, entries: Iterable[KnowledgeEntry]) -> None:
        self.errors: list[str] = []
        self._by_intent: dict[str, list[_IndexedEntry]] = {}
        for order, entry in enumerate(entries):
            keywords = compile_patterns(
                entry.keywords, owner=entry.title, errors=self.errors, log_event="kb-keyword-invalid"
            )
            self._by_intent.setdefault(entry.intent, []).append(_IndexedEntry(entry, order, tuple(keywords)))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_intent.values())

    def has_intent(self, intent: str) -> bool:
        return bool(self._by_intent.get(intent))

    def ranked(
        self, intent: str, text: NormalizedText, *, account_name: str | None = None, product_id: str | None = None
    ) -> list[KBMatch]:
        """Every in-scope entry of ``intent``, best first."""
        scored: list[tuple[tuple, KBMatch]] = []
        for item in self._by_intent.get(intent, ()):
            entry = item.entry
            if entry.account_name and entry.account_name != account_name:
                continue
            if entry.product_id and entry.product_id != (product_id or None):
                continue
            match = _match(item, text.compact)
            key = (match.is_relevant, entry.specificity, match.quality, entry.priority, -item.order)
            scored.append((key, match))
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [match for _key, match in scored]

    def best(
        self, intent: str, text: NormalizedText, *, account_name: str | None = None, product_id: str | None = None
    ) -> KBMatch | None:
        ranked = self.ranked(intent, text, account_name=account_name, product_id=product_id)
        return ranked[0] if ranked else None


def _match(item: _IndexedEntry, compact: str) -> KBMatch:
    if not item.keywords:
        return KBMatch(item.entry, NO_KEYWORD_QUALITY, ())
    spans: list[tuple[int, int, str]] = []
    for keyword in item.keywords:
        if keyword.literal:  # a plain keyword's regex is the escaped keyword: find() gives the same span
            start = compact.find(keyword.literal)
            if start >= 0:
                spans.append((start, start + len(keyword.literal), keyword.source))
            continue
        m = keyword.regex.search(compact)
        if m and m.end() > m.start():
            spans.append((m.start(), m.end(), keyword.source))
    # Like the classifier: a keyword found only inside a longer matched keyword is the same evidence.
    spans.sort(key=lambda s: s[0] - s[1])
    counted: list[tuple[int, int]] = []
    matched: list[str] = []
    for start, end, source in spans:
        if any(a <= start and end <= b for a, b in counted):
            continue
        counted.append((start, end))
        matched.append(source)
    return KBMatch(item.entry, 1.0 - 0.5 ** len(matched), tuple(matched))


@lru_cache(maxsize=16)
def _kb_for(entries: tuple[KnowledgeEntry, ...]) -> KnowledgeBase:
    return KnowledgeBase(entries)


def knowledge_base_for(entries: Iterable[KnowledgeEntry]) -> KnowledgeBase:
    return _kb_for(tuple(entries))


def _josa(value: str, pair: str) -> str:
    """The particle that fits ``value``'s last syllable; the paired form when we cannot tell."""
    last = value.rstrip()[-1:] if value.strip() else ""
    final = has_final_consonant(last) if last else None
    if final is None:
        return pair  # digits or Latin letters: keep "은(는)" as written, it is still correct Korean
    with_final, without_final = _JOSA[pair]
    if pair == "(으)로" and final and (ord(last) - 0xAC00) % 28 == 8:  # ㄹ 받침 takes 로 (서울로)
        return without_final
    return with_final if final else without_final


def placeholder_value(raw: object) -> str:
    """A value as it appears in a draft: one line, trimmed to :data:`MAX_VALUE_CHARS`."""
    return " ".join(str(raw).split())[:MAX_VALUE_CHARS] if raw is not None else ""


def render(body: str, values: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """Fill ``{placeholders}``; returns the text and the names of placeholders nobody knew.

    Empty values fall back to :data:`PLACEHOLDER_DEFAULTS`; unknown placeholders are dropped. Values are
    inserted in one pass (a value is never re-read as a template), and anything brace-like left over,
    in the template or inside a value, is removed: ``{x}`` must never reach a customer.
    """
    unknown: list[str] = []

    def fill(m: re.Match[str]) -> str:
        name, pair = m.group(1), m.group(2)
        value = placeholder_value(values.get(name))
        if not value:
            value = PLACEHOLDER_DEFAULTS.get(name, "")
            if name not in PLACEHOLDER_DEFAULTS and name not in values:
                unknown.append(name)
        if pair:
            return value + (_josa(value, pair) if value else "")
        return value

    text = _PLACEHOLDER.sub(fill, body or "")
    text = _LEFTOVER.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(lines).strip(), unknown
