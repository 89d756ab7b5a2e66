"""Member export to .xlsx: stream a filtered, scoped member list into a write-only workbook, masked (PIPL)."""

from __future__ import annotations

from typing import IO

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.places.models import OrgUnit

from .models import Member

HEADERS = ["编号", "姓名", "手机号", "身份证", "网格", "社区", "街道", "标签", "状态"]
WIDTHS = [10, 12, 15, 22, 24, 16, 16, 24, 10]
_BATCH = 2000  # rows fetched per round trip (a server-side cursor on PostgreSQL)


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"


class _Places:
    """Grid, community and street names for each unit a member lives in, looked up once per unit."""

    def __init__(self, session: Session, tenant_id: int):
        self._units = {row.id: row for row in session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.kind, OrgUnit.path).where(OrgUnit.tenant_id == tenant_id))}
        self._cache: dict[int, tuple[str, str, str]] = {}

    def of(self, unit_id: int) -> tuple[str, str, str]:
        if unit_id not in self._cache:
            unit = self._units.get(unit_id)
            names = {"grid": [], "community": "", "street": ""}
            for i in (int(p) for p in (unit.path if unit else "").strip("/").split("/") if p):
                u = self._units.get(i)
                if u is None:
                    continue
                if u.kind in ("grid", "building"):
                    names["grid"].append(u.name)  # a building shows as "grid / building"
                else:
                    names[u.kind] = u.name
            self._cache[unit_id] = (" / ".join(names["grid"]), names["community"], names["street"])
        return self._cache[unit_id]


def _cell(ws, value):
    """A text cell that stays text: openpyxl would turn a name like "=HYPERLINK(…)" into a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_members_xlsx(session: Session, tenant_id: int, stmt, out: IO[bytes]) -> int:
    """Write the members `stmt` selects (views.scoped_member_select) to `out` as .xlsx; return the row count.

    Rows are fetched in batches and written to a write-only sheet, so no list of members is held."""
    tag_labels = {"volunteer": _("Volunteer"), "party_member": _("Party member"), "grid_worker": _("Grid worker"),
                  "building_head": _("Building head")}
    status_labels = {"active": _("Active"), "suspended": _("Suspended"), "left": _("Left")}
    places = _Places(session, tenant_id)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("members")
    for i, width in enumerate(WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.append(HEADERS)
    columns = stmt.with_only_columns(
        Member.id, Member.name, Member.mobile, Member.id_number_masked, Member.grid_id, Member.status,
        Member.is_volunteer, Member.is_party_member, Member.is_grid_worker, Member.is_building_head)
    count = 0
    for row in session.execute(columns.execution_options(yield_per=_BATCH)):
        grid, community, street = places.of(row.grid_id)
        tags = "、".join(label for tag, label in tag_labels.items() if getattr(row, f"is_{tag}"))
        ws.append([row.id, _cell(ws, row.name), mask_mobile(row.mobile), row.id_number_masked or "",
                   _cell(ws, grid), _cell(ws, community), _cell(ws, street), tags,
                   status_labels.get(row.status, row.status)])
        count += 1
    wb.save(out)
    return count
