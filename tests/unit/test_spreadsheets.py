"""app/spreadsheets.py on real files: zip bombs refused before openpyxl unpacks them, the reading bounds,
and .xlsx writers that never fail on control characters nor write a live formula."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

import pytest
from flask import Flask
from flask_babel import Babel
from openpyxl import Workbook, load_workbook

from app.people import import_job
from app.spreadsheets import Limits, SpreadsheetError, append_text_row, check_xlsx_size, read_table, text_row

COLUMNS = {"name": ("姓名", "name"), "mobile": ("手机号", "mobile")}


@pytest.fixture(autouse=True)
def _context():
    """Messages are translated: an English app context, as any request has."""
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    Babel(app)
    with app.app_context():
        yield


def small_workbook(rows=(("张伟", "13800138000"),), headers=("姓名", "手机号")) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(list(headers))
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def with_part(content: bytes, part: str, chunks) -> bytes:
    """The workbook with `part` replaced by the bytes `chunks` yields, streamed into the zip (deflated),
    as a bomb's maker would write it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == part:
                continue
            dst.writestr(info, src.read(info.filename))
        info = zipfile.ZipInfo(part)
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as f:
            for chunk in chunks:
                f.write(chunk)
    return out.getvalue()


def shared_strings_bomb(unpacked_mb: int) -> bytes:
    """A real .xlsx whose shared strings unpack to `unpacked_mb` MB: one cell refers to a string table
    of 32,000-character strings, the shape of the workbook that held the server for 98 s."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    )
    si = b"<si><t>" + b"A" * 32_000 + b"</t></si>"

    def chunks():
        yield head
        for _ in range(unpacked_mb * 1024 * 1024 // len(si) + 1):
            yield si
        yield b"</sst>"

    wb = Workbook()
    wb.active.append(["姓名", "手机号"])
    wb.active.append(["张伟", "13800138000"])
    out = io.BytesIO()
    wb.save(out)
    return with_part(out.getvalue(), "xl/sharedStrings.xml", chunks())


def test_a_shared_strings_bomb_is_refused_before_it_is_unpacked():
    bomb = shared_strings_bomb(270)
    assert len(bomb) < 2 * 1024 * 1024  # a small upload…
    with zipfile.ZipFile(io.BytesIO(bomb)) as z:
        assert sum(i.file_size for i in z.infolist()) > 270 * 1024 * 1024  # …that unpacks to 270 MB

    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(SpreadsheetError) as e:
        read_table("members.xlsx", bomb, COLUMNS, ("name",))
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert e.value.code == "too_big_unpacked" and "MB" in e.value.message
    assert e.value.params["size_mb"] >= 270
    assert elapsed < 2 and peak < 20 * 1024 * 1024  # refused from the zip directory: nothing was unpacked


def test_a_part_packed_far_tighter_than_any_sheet_is_refused_even_under_the_total():
    bomb = shared_strings_bomb(20)  # 20 MB unpacked, under the 150 MB total, but packed about 1000 : 1

    with pytest.raises(SpreadsheetError) as e:
        check_xlsx_size(bomb)
    assert e.value.code == "too_big_unpacked"


def test_an_ordinary_workbook_passes_the_size_check():
    rows = [(f"会员{i}", f"137{i:08d}") for i in range(5000)]
    check_xlsx_size(small_workbook(rows))  # no error
    table = read_table("m.xlsx", small_workbook(rows), COLUMNS, ("name", "mobile"))
    assert len(table.rows) == 5000 and table.rows[0][0] == 2


def test_a_too_long_cell_is_refused_with_its_row_and_column():
    content = small_workbook([("张伟", "13800138000"), ("王" * 5000, "13800138001")])

    with pytest.raises(SpreadsheetError) as e:
        read_table("m.xlsx", content, COLUMNS, ("name",))
    assert (e.value.code, e.value.params) == ("cell_too_long", {"row": 3, "column": "姓名"})


def test_columns_beyond_the_limit_are_not_read():
    headers = [f"备注{i}" for i in range(70)] + ["姓名", "手机号"]
    content = small_workbook([[None] * 70 + ["张伟", "13800138000"]], headers=headers)

    with pytest.raises(SpreadsheetError) as e:
        read_table("m.xlsx", content, COLUMNS, ("name",))
    assert e.value.code == "missing_columns"
    assert (
        read_table("m.xlsx", content, COLUMNS, ("name",), limits=Limits(max_columns=100)).rows[0][1]["name"] == "张伟"
    )


def test_reading_stops_at_the_time_limit():
    content = small_workbook([(f"会员{i}", f"137{i:08d}") for i in range(3000)])

    with pytest.raises(SpreadsheetError) as e:
        read_table("m.xlsx", content, COLUMNS, ("name",), limits=Limits(max_seconds=0))
    assert e.value.code == "too_slow"


def test_too_many_rows_are_refused():
    content = small_workbook([(f"会员{i}", f"137{i:08d}") for i in range(11)])

    with pytest.raises(SpreadsheetError) as e:
        read_table("m.xlsx", content, COLUMNS, ("name",), limits=Limits(max_rows=10))
    assert e.value.code == "too_many_rows"


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", '=HYPERLINK("http://x","y")'])
def test_writers_keep_formula_like_values_as_text(value):
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append(text_row(ws, [value, "ok"]))
    normal = Workbook()
    append_text_row(normal.active, [value, 1])
    for book in (wb, normal):
        out = io.BytesIO()
        book.save(out)
        cell = load_workbook(io.BytesIO(out.getvalue())).worksheets[-1]["A1"]
        assert (cell.value, cell.data_type) == (value, "s")


def test_writers_strip_control_characters():
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append(text_row(ws, ["张\x01伟\x1f", "=\x02x"]))
    out = io.BytesIO()
    wb.save(out)  # openpyxl raises IllegalCharacterError for a raw "\x01"
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert (sheet["A1"].value, sheet["B1"].value, sheet["B1"].data_type) == ("张伟", "=x", "s")


def test_the_import_template_never_holds_a_formula_or_a_control_character():
    content = import_job.template_xlsx("=cmd|' /C calc'!A0\x01")  # a grid named by someone malicious

    ws = load_workbook(io.BytesIO(content)).active
    assert ws["D2"].value == "=cmd|' /C calc'!A0" and ws["D2"].data_type == "s"
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
