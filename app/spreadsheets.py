"""Spreadsheets in and out: read an .xlsx or .csv upload into numbered rows under known columns, safely
(zip bombs refused before openpyxl sees them, rows/columns/cell lengths/time bounded), and write .xlsx
cells that stay plain text (no control characters, no formulas).

Nothing here knows about members: an area gives its columns (field -> accepted headers) and gets a
Table back. Used by the member import; the outlet catalogue and fund payout lists will use it too.
"""

from __future__ import annotations

import csv
import io
import re
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import gettext as _
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from app.errors import ValidationFailed

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Limits:
    """What one upload may cost. A 50,000-row member list unpacks to about 40 MB of XML."""

    max_rows: int = 50_000
    max_columns: int = 60  # columns read per row; more are ignored (offices add notes, not data)
    max_cell_chars: int = 1000  # a longer cell is refused: no member field is near it
    max_unpacked_bytes: int = 150 * 1024 * 1024  # all zip parts together, unpacked
    max_part_ratio: int = 100  # unpacked / packed for one part larger than RATIO_FLOOR
    ratio_floor: int = 5 * 1024 * 1024
    max_seconds: float = 60.0  # reading stops after this long


DEFAULT_LIMITS = Limits()


class SpreadsheetError(ValidationFailed):
    """The file as a whole cannot be used (format, encoding, size, missing columns, empty, too long).

    `code` and `params` are stable; `message` is the text for the user in the current language."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass
class Table:
    """A file's header map and its data rows (blank rows left out), each with its row number as Excel
    shows it (the header is row 1)."""

    headers: dict[str, str]  # field -> the header as written in the file
    rows: list[tuple[int, dict[str, object]]]


# ---------------------------------------------------------------- headers and cells


def normalise_header(raw) -> str:
    """ "姓名(必填)*", "是否党员（是/否）", "Party-Member" -> "姓名", "党员", "party_member"."""
    s = re.sub(r"[\s*＊]", "", str(raw if raw is not None else ""))
    s = re.sub(r"[（(][^）)]*[）)]$", "", s)
    if s.startswith("是否"):
        s = s[2:]
    return s.lower().replace("-", "_")


def blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def cell_text(v) -> str:
    """A cell as text: Excel gives numbers as int or float (13800138000.0)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


# ---------------------------------------------------------------- reading


def read_table(
    filename: str,
    content: bytes,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress=None,
) -> Table:
    """Read an .xlsx or .csv upload into a Table; raise SpreadsheetError when the file as a whole is unusable.

    `columns` maps each field to the headers that mean it (the first is the one named in messages);
    other columns are ignored. `progress(n)` is called every 1,000 rows read."""
    name = (filename or "").lower()
    deadline = time.monotonic() + limits.max_seconds
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        check_xlsx_size(content, limits)
        records = _xlsx_records(content, limits)
    elif name.endswith((".csv", ".txt")):
        records = _csv_records(content)
    elif name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise SpreadsheetError(
            "unsupported_format",
            _(
                "This is an old .xls workbook: in Excel or WPS choose Save As → "
                "Excel Workbook (.xlsx), then upload that file."
            ),
        )
    else:
        raise SpreadsheetError("unsupported_format", _("Upload an Excel workbook (.xlsx) or a CSV file."))
    return _table(records, columns, required, limits, deadline, progress)


def check_xlsx_size(content: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a zip bomb before anything unpacks it: the sizes a zip declares for its parts are what
    openpyxl would unpack (a 600 KB file can hold 270 MB of shared strings)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise SpreadsheetError(
            "bad_file",
            _("This file could not be opened as an Excel workbook (.xlsx). Open it in Excel or WPS and save it again."),
        ) from None
    total = sum(p.file_size for p in parts)
    too_packed = [
        p
        for p in parts
        if p.file_size > limits.ratio_floor and p.file_size > limits.max_part_ratio * max(p.compress_size, 1)
    ]
    if total > limits.max_unpacked_bytes or too_packed:
        mb = limits.max_unpacked_bytes // (1024 * 1024)
        raise SpreadsheetError(
            "too_big_unpacked",
            _(
                "This workbook unpacks to far more data than a member list holds (%(size)s MB; at most %(max)s MB). "
                "Copy only the rows and columns needed into a new workbook and upload that.",
                size=f"{total / (1024 * 1024):,.0f}",
                max=mb,
            ),
            size_mb=round(total / (1024 * 1024)),
            max_mb=mb,
        )


def _xlsx_records(content: bytes, limits: Limits) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # WPS and others write styles openpyxl warns about; harmless here
            # read_only: rows stream from the sheet's XML instead of a whole workbook held in memory.
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise SpreadsheetError(
            "bad_file",
            _("This file could not be opened as an Excel workbook (.xlsx). Open it in Excel or WPS and save it again."),
        ) from None
    return _sheet_rows(wb, limits)


def _sheet_rows(wb, limits: Limits) -> Iterator[tuple[int, list]]:
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # some tools write a wrong <dimension>; read what is really there
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, row in enumerate(ws.iter_rows(values_only=True, max_col=limits.max_columns), start=1):
                yield number, list(row)
    finally:
        wb.close()


def _csv_records(content: bytes) -> Iterator[tuple[int, list]]:
    for encoding in ("utf-8-sig", "gb18030"):  # UTF-8 (with or without BOM), then what Chinese Excel/WPS writes
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SpreadsheetError(
            "encoding",
            _(
                "The file's text encoding is not UTF-8 or GBK/GB18030. Save the CSV "
                "as “CSV UTF-8” (or as an .xlsx workbook) and upload it again."
            ),
        )
    if "\x00" in text:  # no text column takes NUL (PostgreSQL refuses it); a CSV holding one is not text
        raise SpreadsheetError("bad_file", _("This CSV file could not be read. Save it from Excel or WPS again."))
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count) if first_line else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise SpreadsheetError(
            "bad_file", _("This CSV file could not be read. Save it from Excel or WPS again.")
        ) from None
    return iter([(n, row) for n, row in enumerate(rows, start=1)])


def _table(
    records: Iterator[tuple[int, list]],
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    limits: Limits,
    deadline: float,
    progress,
) -> Table:
    alias_to_field = {normalise_header(a): f for f, aliases in columns.items() for a in aliases}
    first = next(records, None)
    if first is None:
        raise SpreadsheetError("empty", _("The file is empty: the first row must name the columns."))
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for i, raw in enumerate(first[1][: limits.max_columns]):
        f = alias_to_field.get(normalise_header(raw))
        if f is None:
            continue  # offices add 序号, 备注… — other columns are ignored
        if f in positions:
            raise SpreadsheetError(
                "duplicate_column",
                _("The columns %(a)s and %(b)s mean the same thing: keep one.", a=headers[f], b=str(raw).strip()),
            )
        positions[f], headers[f] = i, str(raw).strip()
    missing = [columns[f][0] for f in required if f not in positions]
    if missing:
        raise SpreadsheetError(
            "missing_columns",
            _(
                "Missing columns: %(columns)s. The first row must name the columns; download the template to see them.",
                columns="、".join(missing),
            ),
            columns=missing,
        )
    rows: list[tuple[int, dict[str, object]]] = []
    for number, cells in records:
        values = {f: (cells[i] if i < len(cells) else None) for f, i in positions.items()}
        if all(blank(v) for v in values.values()):
            continue  # empty rows at the end of a sheet are not members
        if len(rows) >= limits.max_rows:
            raise SpreadsheetError(
                "too_many_rows",
                _(
                    "The file has more than %(n)s rows: split it (by community, for example) and import each part.",
                    n=f"{limits.max_rows:,}",
                ),
            )
        for f, v in values.items():
            if isinstance(v, str) and len(v) > limits.max_cell_chars:
                raise SpreadsheetError(
                    "cell_too_long",
                    _(
                        "Row %(row)d, column %(column)s holds more than %(n)s characters: no column needs that many.",
                        row=number,
                        column=headers[f],
                        n=limits.max_cell_chars,
                    ),
                    row=number,
                    column=headers[f],
                )
        rows.append((number, values))
        if len(rows) % 1000 == 0:
            if time.monotonic() > deadline:
                raise SpreadsheetError(
                    "too_slow", _("Reading this file takes too long: split it into smaller files and import each part.")
                )
            if progress is not None:
                progress(len(rows))
    if not rows:
        raise SpreadsheetError("empty", _("The file has column headers but no members below them."))
    return Table(headers, rows)


# ---------------------------------------------------------------- writing


def safe_text(value):
    """A value for an .xlsx cell: control characters openpyxl refuses (IllegalCharacterError) removed."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _formula_like(value) -> bool:
    return isinstance(value, str) and value[:1] in ("=", "+", "-", "@")


def text_cell(ws, value):
    """A cell for a write-only sheet's append(): cleaned, and a value like "=HYPERLINK(…)" kept as text,
    never a live formula."""
    value = safe_text(value)
    if _formula_like(value):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def text_row(ws, values) -> list:
    return [text_cell(ws, v) for v in values]


def append_text_row(ws, values) -> None:
    """Append one row to a normal (not write-only) sheet, every string cell plain text."""
    ws.append([safe_text(v) for v in values])
    for cell in ws[ws.max_row]:
        if _formula_like(cell.value):
            cell.data_type = "s"
