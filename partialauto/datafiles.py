"""Reading the seller's data files (product knowledge, shipping policy): bytes in, rows out, or one
:class:`DataFileError` that says where the file is wrong and what is allowed.

Shared by the services of several apps, the management commands and the admin's upload page, so a
file is judged the same way wherever it comes from. Nothing here writes to the database.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

MAX_FILE_BYTES = 5 * 1024 * 1024  # a few thousand products; anything bigger is not a seller's fact sheet
MAX_PROBLEMS = 20  # problems listed per refusal: enough to fix a file in one go, short enough to read

JSON, CSV = "json", "csv"
FORMATS = (JSON, CSV)


class DataFileError(ValueError):
    """A file that cannot be taken as it is. ``problems`` are translated sentences, each saying where
    (line or item) and what is wrong and allowed; ``str()`` joins them one a line."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class Problems:
    """Collects the problems of one file, then refuses it once with all of them (up to a limit)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_PROBLEMS]
        if len(self.items) > MAX_PROBLEMS:
            shown.append(_("…외 %(n)s건 더 있습니다.") % {"n": len(self.items) - MAX_PROBLEMS})
        raise DataFileError(shown)


def read_path(path: str) -> bytes:
    """The bytes of a file named on the command line, or a :class:`DataFileError` saying why not."""
    try:
        size = os.path.getsize(path)
        if os.path.isdir(path):
            raise DataFileError(_("파일이 아니라 폴더입니다: %(path)s") % {"path": path})
        if size > MAX_FILE_BYTES:
            raise DataFileError(
                _("파일이 너무 큽니다: %(path)s (%(size)s바이트). %(max)s바이트까지 읽습니다.")
                % {"path": path, "size": size, "max": MAX_FILE_BYTES}
            )
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise DataFileError(
            _("파일을 읽을 수 없습니다: %(path)s (%(reason)s)")
            % {"path": path, "reason": exc.strerror or exc.__class__.__name__}
        ) from None


def decode(raw: bytes) -> str:
    """UTF-8 text, with or without a byte-order mark; anything else is refused with the line it breaks on."""
    if not raw.strip():
        raise DataFileError(_("파일이 비어 있습니다."))
    if b"\x00" in raw:
        raise DataFileError(
            _("텍스트 파일이 아닙니다 (NUL 바이트가 있습니다). UTF-8로 저장한 JSON 또는 CSV 파일을 올려 주세요.")
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(
            _(
                "%(line)s행: UTF-8로 읽을 수 없는 글자가 있습니다. 파일을 UTF-8(BOM 있어도 됨)로 저장해 주세요. "
                "엑셀에서는 'CSV UTF-8(쉼표로 분리)' 형식으로 저장하면 됩니다."
            )
            % {"line": line}
        ) from None


def detect_format(*, filename: str = "", text: str = "", fmt: str | None = None) -> str:
    """``json`` or ``csv``: as asked, else by the file's extension, else by its first character."""
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise DataFileError(_("알 수 없는 형식입니다: %(fmt)s. json 또는 csv만 됩니다.") % {"fmt": fmt})
        return fmt
    ext = os.path.splitext(filename or "")[1].lower()
    if ext in (".json", ".csv"):
        return ext[1:]
    return JSON if text.lstrip()[:1] in ("[", "{") else CSV


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            _("JSON 형식이 올바르지 않습니다 (%(line)s행 %(column)s열 근처). 따옴표, 쉼표, 괄호를 확인해 주세요.")
            % {"line": exc.lineno, "column": exc.colno}
        ) from None


@dataclass(frozen=True)
class CsvRow:
    line: int  # the file's line the row ends on (what a spreadsheet user looks for)
    values: dict[str, str]  # by column name, stripped


def parse_csv(text: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[CsvRow]:
    """Rows of a CSV with a header line. Column names are compared case-insensitively; a missing required
    column, an unknown column, a repeated column or a row with more cells than the header refuses the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    allowed = required + optional
    try:
        header = next(reader, None)
        if header is None:
            raise DataFileError(_("파일이 비어 있습니다."))
        names = [h.strip().lower() for h in header]
        problems = Problems()
        missing = [c for c in required if c not in names]
        if missing:
            problems.add(
                _(
                    "1행(머리글): 필요한 열이 없습니다: %(missing)s. "
                    "머리글에는 %(required)s 열이 있어야 합니다%(optional)s."
                )
                % {
                    "missing": ", ".join(missing),
                    "required": ", ".join(required),
                    "optional": _(" (선택: %(names)s)") % {"names": ", ".join(optional)} if optional else "",
                }
            )
        unknown = [n for n in names if n and n not in allowed]
        if unknown:
            problems.add(
                _("1행(머리글): 알 수 없는 열입니다: %(unknown)s. 쓸 수 있는 열: %(allowed)s.")
                % {"unknown": ", ".join(unknown), "allowed": ", ".join(allowed)}
            )
        repeated = sorted({n for n in names if n and names.count(n) > 1})
        if repeated:
            problems.add(_("1행(머리글): 같은 열이 두 번 있습니다: %(names)s.") % {"names": ", ".join(repeated)})
        problems.raise_if_any()
        rows: list[CsvRow] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank line
            line = reader.line_num
            extra = cells[len(names) :]
            if any(c.strip() for c in extra):
                problems.add(
                    _(
                        "%(line)s행: 칸이 머리글보다 많습니다 (%(cells)s칸, 머리글 %(columns)s칸). "
                        "값에 쉼표가 있으면 큰따옴표로 감싸 주세요."
                    )
                    % {"line": line, "cells": len(cells), "columns": len(names)}
                )
                continue
            if any(not name and i < len(cells) and cells[i].strip() for i, name in enumerate(names)):
                problems.add(
                    _("%(line)s행: 머리글이 비어 있는 열에 값이 있습니다. 그 열의 머리글을 적거나 값을 지워 주세요.")
                    % {"line": line}
                )
                continue
            values = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(names) if name}
            rows.append(CsvRow(line, values))
    except csv.Error as exc:
        raise DataFileError(
            _("%(line)s행: CSV 형식이 올바르지 않습니다 (닫히지 않은 큰따옴표 등).") % {"line": reader.line_num}
        ) from exc
    problems.raise_if_any()
    if not rows:
        raise DataFileError(_("머리글 말고는 내용이 없습니다."))
    return rows


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"
