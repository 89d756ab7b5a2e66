"""An award list (.xlsx or .csv): one row per member — mobile, name, points. The dry run reads it with
the shared spreadsheet reader (app/spreadsheets.py) and reports every row's problem in words; the award
is made only from a list without problems (all or none)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.spreadsheets import Limits, append_text_row, blank, cell_text, read_table

from . import awards
from .awards import MAX_LINES, MAX_POINTS, AwardItem

COLUMNS = {
    "mobile": ("手机号", "手机", "mobile"),
    "name": ("姓名", "name"),
    "points": ("积分", "奖励积分", "points"),
}
REQUIRED = ("mobile", "name", "points")
HEADERS = ["姓名", "手机号", "积分"]
EXAMPLE_MARK = "示例"
LIMITS = Limits(max_rows=MAX_LINES, max_columns=20)


@dataclass
class ListRow:
    row: int
    member_id: int
    name: str
    points: int


@dataclass
class ListCheck:
    rows: list[ListRow] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # {"row", "column", "message"}

    @property
    def total(self) -> int:
        return sum(r.points for r in self.rows)

    @property
    def items(self) -> list[AwardItem]:
        return [AwardItem(r.member_id, r.points) for r in self.rows]


def check_list(session: Session, tenant_id: int, filename: str, content: bytes) -> ListCheck:
    """The dry run: every row's problems (row number as the spreadsheet shows it), nothing written.
    A file that cannot be read at all raises SpreadsheetError (its message says what to do)."""
    table = read_table(filename, content, COLUMNS, REQUIRED, limits=LIMITS)
    out = ListCheck()
    col = table.headers

    def problem(row: int, f: str, message: str) -> None:
        out.problems.append({"row": row, "column": col.get(f, COLUMNS[f][0]), "message": message})

    mobiles = [cell_text(c.get("mobile")) for _n, c in table.rows]
    found = awards.lookup_mobiles(session, tenant_id, [m for m in mobiles if m])
    seen: dict[int, int] = {}
    for number, cells in table.rows:
        name = cell_text(cells.get("name"))
        if name.startswith(EXAMPLE_MARK):
            problem(number, "name", _("This is the template's example row: delete it."))
            continue
        ok = True
        raw_points = cell_text(cells.get("points"))
        points = int(raw_points) if raw_points.isdecimal() and len(raw_points) < 10 else 0
        if not 1 <= points <= MAX_POINTS:
            ok = False
            problem(number, "points", _("Points must be a whole number from 1 to 100,000."))
        mobile = cell_text(cells.get("mobile"))
        member = found.get(mobile)
        if blank(mobile):
            ok = False
            problem(number, "mobile", _("The mobile number is missing."))
        elif member is None:
            ok = False
            problem(number, "mobile", _("No active member of this district has this mobile number."))
        elif name and name != member[1]:
            ok = False
            problem(
                number,
                "name",
                _("This mobile number belongs to %(name)s, not to the name in this row.", name=member[1]),
            )
        elif member[0] in seen:
            ok = False
            problem(number, "mobile", _("The same member is already in row %(row)s.", row=seen[member[0]]))
        if ok and member is not None:
            seen[member[0]] = number
            out.rows.append(ListRow(number, member[0], member[1], points))
    if not table.rows:
        out.problems.append({"row": 1, "column": "", "message": _("The list has no rows.")})
    return out


def template_xlsx() -> bytes:
    """The award list template: the headers and one example row (refused if left in)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "awards"
    append_text_row(ws, HEADERS)
    append_text_row(ws, [f"{EXAMPLE_MARK}：张三（删除此行）", "13800138000", "20"])
    for row in range(2, MAX_LINES + 2):
        ws[f"B{row}"].number_format = "@"
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 15
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
