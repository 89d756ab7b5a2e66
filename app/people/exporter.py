"""Member export to .xlsx: stream a filtered, scoped member list into a write-only workbook, masked (PIPL)."""

from __future__ import annotations

from typing import IO

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.places.models import OrgUnit
from app.spreadsheets import text_row

from . import member_rows
from .labels import STATUS_LABELS
from .models import Member

# The import's columns first, in its order (so an export can be corrected and imported back), then
# columns the import ignores: where the member lives, their status and number.
HEADERS = [*member_rows.HEADERS, "社区", "街道", "状态", "编号"]
WIDTHS = [12, 15, 22, 24, 8, 8, 18, 16, 8, 8, 16, 16, 10, 10]
_BATCH = 2000  # rows fetched per round trip (a server-side cursor on PostgreSQL)


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}"


class _Places:
    """Grid, community and street names for each unit a member lives in, looked up once per unit."""

    def __init__(self, session: Session, tenant_id: int):
        self._units = {
            row.id: row
            for row in session.execute(
                select(OrgUnit.id, OrgUnit.name, OrgUnit.kind, OrgUnit.path).where(OrgUnit.tenant_id == tenant_id)
            )
        }
        self._cache: dict[int, tuple[str, str, str]] = {}

    def of(self, unit_id: int) -> tuple[str, str, str]:
        """(the unit's own name, as the import finds it; its community; its street)."""
        if unit_id not in self._cache:
            unit = self._units.get(unit_id)
            names = {"community": "", "street": ""}
            for i in (int(p) for p in (unit.path if unit else "").strip("/").split("/") if p):
                u = self._units.get(i)
                if u is not None and u.kind in names:
                    names[u.kind] = u.name
            self._cache[unit_id] = (unit.name if unit else "", names["community"], names["street"])
        return self._cache[unit_id]

    def name(self, unit_id: int | None) -> str:
        unit = self._units.get(unit_id) if unit_id is not None else None
        return unit.name if unit else ""


def write_members_xlsx(session: Session, tenant_id: int, stmt, out: IO[bytes]) -> int:
    """Write the members `stmt` selects (views.scoped_member_select) to `out` as .xlsx; return the row count.

    Rows are fetched in batches and written to a write-only sheet, so no list of members is held."""
    status_labels = {k: str(v) for k, v in STATUS_LABELS.items()}
    yes_no = member_rows.yes_no_text
    places = _Places(session, tenant_id)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("members")
    for i, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append(HEADERS)
    columns = stmt.with_only_columns(
        Member.id,
        Member.name,
        Member.mobile,
        Member.id_number_masked,
        Member.grid_id,
        Member.status,
        Member.is_volunteer,
        Member.is_party_member,
        Member.party_org,
        Member.checkin_community_id,
        Member.is_grid_worker,
        Member.is_building_head,
    )
    count = 0
    for row in session.execute(columns.execution_options(yield_per=_BATCH)):
        grid, community, street = places.of(row.grid_id)
        # Every text cell through text_row: no control character (openpyxl refuses them) and no
        # value like "=HYPERLINK(…)" turned into a live formula.
        ws.append(
            text_row(
                ws,
                [
                    row.name,
                    mask_mobile(row.mobile),
                    row.id_number_masked or "",
                    grid,
                    yes_no(row.is_volunteer),
                    yes_no(row.is_party_member),
                    row.party_org or "",
                    places.name(row.checkin_community_id),
                    yes_no(row.is_grid_worker),
                    yes_no(row.is_building_head),
                    community,
                    street,
                    status_labels.get(row.status, row.status),
                    row.id,
                ],
            )
        )
        count += 1
    wb.save(out)
    return count
