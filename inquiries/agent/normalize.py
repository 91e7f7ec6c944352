"""Text normalisation for the CS agent.

Customer text arrives with full-width letters, zero-width characters, emoji, odd spacing and
deliberate masking (``시1발``, ``씨X``). Every later step matches on one of the forms built here, so
the rules are written once against predictable text:

``text``     NFKC, control/zero-width characters removed, whitespace collapsed, capped. What a person
             (or the LLM) reads.
``match``    ``text`` lower-cased with emoji and other pictographic symbols removed.
``compact``  ``match`` without spaces, punctuation and symbols. Korean customers space freely
             (``배송언제와요``, ``소 비 자 원``), so keywords are matched here, space-insensitively.
``masked``   the jamo-aware form for masked profanity: ``match`` with every masking character
             (digits, ``x``, ``*``, punctuation) turned into ``*`` and spaces kept, so a pattern can
             tell ``씨X발`` (masked, always abusive) from ``아저씨 발`` (two words, innocent). The
             risk scanner lets each syllable of an abuse word also match its initial consonant
             (``씨발`` → ``ㅆ발``, ``씨ㅂ``) using :func:`initial_consonant`.

The original string is never modified; callers keep it for display.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

# Marketplace inquiries are short; anything longer is not a routine question (the pipeline sends
# it to a person) and capping keeps every regex pass bounded.
MAX_CHARS = 4000

_HANGUL_BASE = 0xAC00
_HANGUL_LAST = 0xD7A3
# Compatibility jamo for the 19 initial consonants, in Unicode syllable order.
_CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"

# Hangul filler characters render as nothing and are a common way to hide words.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u00ad")
_WHITESPACE_RUN = re.compile(r"\s+")
# Characters people use to mask letters inside a word (after NFKC and lower-casing).
_MASK_CHARS = frozenset("0123456789x*_-.,·•~^!?@#$%&+=/\\|'\"`:;()[]{}<>")


def _build_jamo_map() -> dict[str, str]:
    """Map conjoining jamo (U+1100–U+11FF) to compatibility jamo (ㄱ, ㅏ …).

    NFKC turns the keyboard jamo people type (``ㅅㅂ``) into conjoining jamo; patterns are written
    with keyboard jamo, so we map them back after normalising.
    """
    mapping: dict[str, str] = {}
    for code in range(0x1100, 0x1200):
        name = unicodedata.name(chr(code), "")
        for prefix in ("HANGUL CHOSEONG ", "HANGUL JUNGSEONG ", "HANGUL JONGSEONG "):
            if name.startswith(prefix):
                try:
                    mapping[chr(code)] = unicodedata.lookup("HANGUL LETTER " + name[len(prefix) :])
                except KeyError:
                    pass  # archaic jamo without a compatibility twin: keep as is
                break
    return mapping


_JAMO_TO_COMPAT = str.maketrans(_build_jamo_map())


@dataclass(frozen=True, slots=True)
class NormalizedText:
    original: str
    text: str
    match: str
    compact: str
    masked: str
    truncated: bool

    @property
    def is_empty(self) -> bool:
        return not self.compact


def is_hangul_syllable(ch: str) -> bool:
    return _HANGUL_BASE <= ord(ch) <= _HANGUL_LAST


def initial_consonant(ch: str) -> str | None:
    """The initial consonant (as keyboard jamo) of a Hangul syllable, ``None`` for anything else."""
    if not is_hangul_syllable(ch):
        return None
    return _CHOSEONG[(ord(ch) - _HANGUL_BASE) // 588]


def has_final_consonant(ch: str) -> bool | None:
    """Whether a Hangul syllable ends in a consonant (받침); ``None`` when ``ch`` is not Hangul."""
    if not is_hangul_syllable(ch):
        return None
    return (ord(ch) - _HANGUL_BASE) % 28 != 0


class _CharTable(dict):
    """A ``str.translate`` table that decides each character once, with ``rule``, and remembers it.

    The per-character decisions below (Unicode category look-ups) are the same on every call; doing
    them in a Python loop for every character of every inquiry is what made normalising slow. Here
    the loop runs inside ``str.translate`` and a character already seen is one dictionary hit. The
    table stops growing at :data:`MAX_ENTRIES` characters (text made of every code point there is
    must not grow a worker's memory); past that, new characters are decided on every call.
    """

    MAX_ENTRIES = 65_536

    def __init__(self, rule: Callable[[str], str | None]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, code: int) -> str | None:
        value = self._rule(chr(code))
        if len(self) < self.MAX_ENTRIES:
            self[code] = value
        return value


def _clean_char(ch: str) -> str | None:
    if ch.isspace():
        return " "
    if ch in _INVISIBLE:
        return None
    # Cc control, Cf format (zero-width space/joiner, bidi marks), Cs lone surrogates from bad
    # decoding, Co private use, Cn unassigned: none of them carry meaning for us.
    if unicodedata.category(ch)[0] == "C":
        return None
    return ch


def _symbol_char(ch: str) -> str | None:
    # A symbol between letters (씨♡발) joins them; one between words keeps them apart.
    if unicodedata.category(ch) in ("So", "Sk") or "\ufe00" <= ch <= "\ufe0f":
        return None
    return ch


def _masked_char(ch: str) -> str:
    if ch == " ":
        return " "
    if ch in _MASK_CHARS or not ch.isalnum():
        return "*"
    return ch


_CLEAN = _CharTable(_clean_char)
_SYMBOLS = _CharTable(_symbol_char)
_MASKED = _CharTable(_masked_char)
# ``\w`` is exactly ``str.isalnum()`` plus the underscore (both use Py_UNICODE_ISALNUM).
_NOT_ALNUM = re.compile(r"[\W_]+")


def _clean(raw: str) -> str:
    """NFKC, drop control/format/invisible characters, collapse whitespace."""
    text = unicodedata.normalize("NFKC", raw).translate(_JAMO_TO_COMPAT)
    return _WHITESPACE_RUN.sub(" ", text.translate(_CLEAN)).strip()


def _strip_symbols(text: str) -> str:
    """Remove emoji and pictographic symbols (So/Sk and variation selectors) for matching."""
    return _WHITESPACE_RUN.sub(" ", text.translate(_SYMBOLS)).strip()


def compact_form(text: str) -> str:
    """Letters and digits only: what space-insensitive keyword matching runs on."""
    return _NOT_ALNUM.sub("", text)


def _masked_form(match: str) -> str:
    return match.translate(_MASKED)


@lru_cache(maxsize=4096)
def _normalize_cached(raw: str, max_chars: int) -> NormalizedText:
    text = _clean(raw)
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    match = _strip_symbols(text).lower()
    return NormalizedText(
        original=raw,
        text=text,
        match=match,
        compact=compact_form(match),
        masked=_masked_form(match),
        truncated=truncated,
    )


def normalize(raw: str | None, *, max_chars: int = MAX_CHARS) -> NormalizedText:
    """Build every matching form of ``raw``. Never raises on odd input (``None`` is empty text)."""
    if raw is None:
        raw = ""
    elif not isinstance(raw, str):
        raw = str(raw)
    # The cache pays off for drafts (the same KB bodies are scanned over and over); huge inputs
    # would only evict useful entries.
    if len(raw) > 2 * max_chars:
        return _normalize_cached.__wrapped__(raw, max_chars)
    return _normalize_cached(raw, max_chars)


def normalize_pattern(pattern: str) -> str:
    """The compact form of a plain keyword, so ``언제 와요`` in the admin matches ``언제와요``."""
    return compact_form(_strip_symbols(_clean(pattern)).lower())


# The marketplace's own framing of a case a call centre moved to the seller ("[판매자이관] ◼주문번호: …
# ◼고객문의: … 판매자 확인 및 답변 부탁드립니다."): the same words around every such case, whatever the
# buyer said. What the buyer asks is read without them (the trained model's features, telling a request
# from a status question); the risk scan still reads everything.
_FRAMING = re.compile(
    r"\[?판매자\s?이관\]?|\[?(?:쿠팡\s?)?고객센터\s?이관\]?|주문번호\s?:?\s?\d*|고객문의\s?:?"
    r"|판매자\s?확인\s?및\s?답변\s?부탁드립니다"
)


def strip_framing(form: str) -> str:
    """``form`` (the compact or the match form of a text) without the marketplace's framing words."""
    return _FRAMING.sub(" " if " " in form else "", form)
