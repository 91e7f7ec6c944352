"""Command output for people: columns aligned by display width and times in Asia/Seoul.

A Hangul syllable takes two terminal columns, so ``f"{name:<16}"`` misaligns Korean text; these
helpers count East Asian wide and fullwidth characters as two (``unicodedata.east_asian_width``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence

from django.utils import timezone

WIDE = ("W", "F")


def display_width(text: str) -> int:
    """The terminal columns ``text`` takes: wide characters 2, combining marks 0, the rest 1."""
    width = 0
    for char in str(text):
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in WIDE else 1
    return width


def ljust(text: str, width: int) -> str:
    text = str(text)
    return text + " " * max(width - display_width(text), 0)


def rjust(text: str, width: int) -> str:
    text = str(text)
    return " " * max(width - display_width(text), 0) + text


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, right: Sequence[int] = ()) -> list[str]:
    """The lines of a plain-text table: a header, a rule and the rows; columns in ``right`` right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join((rjust if i in right else ljust)(value, widths[i]) for i, value in enumerate(row)).rstrip()

    header = line(cells[0])
    return [header, "-" * display_width(header)] + [line(row) for row in cells[1:]]


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An aware time as a person reads it here: Asia/Seoul (the project's TIME_ZONE), marked KST."""
    if value is None:
        return "-"
    return f"{timezone.localtime(value).strftime(fmt)} KST"
