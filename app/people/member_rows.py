"""The member import's row rules: which columns a member file has, and every problem of every row.

The rules for one member are MemberIn's (schemas.py) and identity.py's; this module adds what only a
file has: duplicates within the file, grids and communities by number or name, the template's example
row, masked values from an export. Problems are stored as codes with parameters and the offending value
(masked when it is a mobile or an ID number) and put into words only when shown (`problem_text`), so
they read in the viewer's language. Nothing here is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.places.models import OrgUnit
from app.spreadsheets import Table, blank, cell_text
from app.validation import field_errors

from .identity import hash_id_number, mask_id_number, normalise_id_number, normalise_mobile
from .models import Member
from .schemas import MemberIn
from .services import member_row

# The columns an import writes for each member (tenant, status and times are the same for all rows).
IMPORTED_COLUMNS = (
    "name",
    "mobile",
    "mobile_tail",
    "id_number_hash",
    "id_number_masked",
    "grid_id",
    "is_volunteer",
    "is_party_member",
    "party_org",
    "checkin_community_id",
    "is_grid_worker",
    "is_building_head",
)

_IN_CHUNK = 1000  # values per IN (...) lookup

# field -> accepted headers (compared after spreadsheets.normalise_header). The first is the canonical
# Chinese name: the template and the export write these columns in this order, so an export can be
# edited and imported back.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "name"),
    "mobile": ("手机号", "手机", "手机号码", "mobile", "phone"),
    "id_number": ("身份证号", "身份证", "身份证号码", "公民身份号码", "id_number", "idnumber", "id_no"),
    "grid": ("网格", "网格编号", "所属网格", "网格名称", "grid", "grid_id"),
    "is_volunteer": ("志愿者", "volunteer", "is_volunteer"),
    "is_party_member": ("党员", "party_member", "is_party_member"),
    "party_org": ("党组织", "党支部", "party_org"),
    "checkin_community": ("报到社区", "checkin_community", "checkin_community_id"),
    "is_grid_worker": ("网格员", "grid_worker", "is_grid_worker"),
    "is_building_head": ("楼栋长", "building_head", "is_building_head"),
}
REQUIRED = ("name", "mobile", "grid")
BOOLEAN_FIELDS = ("is_volunteer", "is_party_member", "is_grid_worker", "is_building_head")
HEADERS = [aliases[0] for aliases in COLUMNS.values()]
EXAMPLE_MARK = "示例"  # the template's example row starts its name with this; such a row is refused
_YES = {"是", "y", "yes", "1", "true", "t", "√", "✓", "on"}
_NO = {"否", "n", "no", "0", "false", "f", "×", "✗", "off"}
_PERSONAL = ("mobile", "id_number")


@dataclass
class CheckResult:
    total_rows: int
    members: list[dict] = field(default_factory=list)  # insert-ready values, only when there are no errors
    errors: list[dict] = field(default_factory=list)  # {"row", "column", "code", "params", "value"}, row order


def yes_no_text(value: bool) -> str:
    return "是" if value else "否"


def masked(f: str, raw) -> str:
    """A cell's value as a problem report may show it: mobiles and ID numbers masked, others shortened."""
    s = cell_text(raw)
    if f in _PERSONAL:
        s = s.replace(" ", "")
        if len(s) == 18:
            return mask_id_number(s)
        if len(s) >= 8:
            return f"{s[:3]}{'*' * (len(s) - 7)}{s[-4:]}"
        return "*" * max(len(s) - 2, 0) + s[-2:] if len(s) > 2 else "*" * len(s)
    return s if len(s) <= 60 else s[:59] + "…"


def problem_text(code: str, params: dict | None = None) -> str:
    """A stored problem code in the viewer's language."""
    p = params or {}
    mobile = p.get("field") == "mobile"
    texts = {
        "missing": lambda: _("This field is required."),
        "bad_mobile": lambda: _("Enter an 11-digit mainland mobile number, such as 13800138000."),
        "bad_id_number": lambda: _("This ID number is not valid: check the 18 characters (the last may be X)."),
        "too_long": lambda: _("Use at most %(n)s characters.", n=p.get("n")),
        "not_yes_no": lambda: _("Enter yes or no."),
        "not_allowed": lambda: _("This value is not valid."),
        "ambiguous_grid": lambda: _(
            "Several grids have this name: write the grid number instead (shown on the grid's page)."
        ),
        "unknown_grid": lambda: _(
            "Unknown grid, or a grid outside your area: write the number or exact name of a grid you manage."
        ),
        "unknown_community": lambda: _(
            "Unknown community: write the number or exact name of a community of this district."
        ),
        "ambiguous_community": lambda: _("Several communities have this name: write the community number."),
        "id_number_as_number": lambda: _(
            "Excel stored this ID number as a number and lost its last digits: format "
            "the column as Text, type the number again, and upload the file again."
        ),
        "duplicate_in_file": lambda: (
            _("The same mobile number as row %(row)d of this file.", row=p.get("row", 0))
            if mobile
            else _("The same ID number as row %(row)d of this file.", row=p.get("row", 0))
        ),
        "duplicate_in_district": lambda: (
            _("A member of this district already has this mobile number.")
            if mobile
            else _("A member of this district already has this ID number.")
        ),
        "example_row": lambda: _(
            "This is the template's example row: delete it and write your members below the header."
        ),
        "masked_value": lambda: _(
            "This is a masked value from an export: write the full number (or leave the ID number blank)."
        ),
    }
    return texts.get(code, lambda: _("This value is not valid."))()


def _yes_no(v, default: bool):
    """是/否, Y/N, 1/0, true/false → bool; anything else goes to MemberIn unchanged, which refuses it."""
    if blank(v):
        return default
    if isinstance(v, bool):
        return v
    s = cell_text(v).lower()
    if s in _YES:
        return True
    if s in _NO:
        return False
    return s


class _Units:
    """The district's active units, to resolve a 网格 / 报到社区 cell by number or by exact name."""

    def __init__(self, session: Session, tenant_id: int):
        self.by_id: dict[int, OrgUnit] = {}
        self.by_name: dict[tuple[str, str], list[OrgUnit]] = {}
        active = select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.retired_at.is_(None))
        for unit in session.scalars(active):
            self.by_id[unit.id] = unit
            kind = "community" if unit.kind == "community" else "residence" if unit.kind in ("grid", "building") else ""
            self.by_name.setdefault((kind, unit.name), []).append(unit)

    def find(
        self, value, kinds: tuple[str, ...], name_kind: str, prefer: Callable[[OrgUnit], bool] | None = None
    ) -> tuple[OrgUnit | None, str | None]:
        """(unit, None) or (None, "unknown" | "ambiguous")."""
        s = cell_text(value)
        if s.isdecimal() and len(s) < 19:
            unit = self.by_id.get(int(s))
            if unit is not None and unit.kind in kinds:
                return unit, None
        matches = self.by_name.get((name_kind, s), [])
        if len(matches) > 1 and prefer is not None:
            # "第一网格" exists in many communities; the importer's own area decides which one is meant.
            matches = [u for u in matches if prefer(u)] or matches
        if len(matches) == 1:
            return matches[0], None
        return None, "ambiguous" if matches else "unknown"


def check_rows(
    session: Session, tenant_id: int, table: Table, *, may_edit: Callable[[OrgUnit], bool], id_key: bytes
) -> CheckResult:
    """The dry run: every problem of every row, with the row number and column the user sees.

    `may_edit(unit)` says whether the importing user may add members to a grid; a grid outside it is
    reported exactly like an unknown grid. Nothing is written."""
    units = _Units(session, tenant_id)
    errors: list[dict] = []
    col = table.headers
    cells_of: dict[int, dict] = {}

    def err(number: int, f: str, code: str, **params) -> None:
        errors.append(
            {
                "row": number,
                "field": f,
                "column": col.get(f, COLUMNS[f][0]),
                "code": code,
                "params": params,
                "value": masked(f, cells_of[number].get(f)),
            }
        )

    candidates: list[tuple[int, dict]] = []  # rows that passed the row-level rules
    keys: list[tuple[int, str | None, str | None]] = []  # (row, mobile, ID hash) of every row, to find duplicates
    first_mobile: dict[str, int] = {}
    first_id: dict[str, int] = {}
    for number, cells in table.rows:
        cells_of[number] = cells
        if cell_text(cells.get("name")).startswith(EXAMPLE_MARK):
            err(number, "name", "example_row")
            continue
        row_ok = True
        masked_fields = {f for f in _PERSONAL if "*" in cell_text(cells.get(f))}
        for f in sorted(masked_fields):
            row_ok = False
            err(number, f, "masked_value")
        grid, problem = (
            (None, "missing")
            if blank(cells.get("grid"))
            else units.find(cells["grid"], ("grid", "building"), "residence", prefer=may_edit)
        )
        if grid is not None and not may_edit(grid):
            grid, problem = None, "unknown"
        if grid is None:
            row_ok = False
            grid_codes: dict[str | None, str] = {"missing": "missing", "ambiguous": "ambiguous_grid"}
            err(number, "grid", grid_codes.get(problem, "unknown_grid"))
        community_id = None
        if not blank(cells.get("checkin_community")):
            community, problem = units.find(cells["checkin_community"], ("community",), "community")
            if community is None:
                row_ok = False
                err(number, "checkin_community", "unknown_community" if problem == "unknown" else "ambiguous_community")
            else:
                community_id = community.id
        data: dict[str, object] = {"checkin_community_id": community_id}
        if grid is not None:
            data["grid_id"] = grid.id
        for f in ("name", "mobile", "id_number", "party_org"):
            if not blank(cells.get(f)) and f not in masked_fields:
                data[f] = cell_text(cells[f])
        if "mobile" in masked_fields:
            data["mobile"] = "00000000000"  # reported above; keeps MemberIn from a second "missing"
        for f, default in zip(BOOLEAN_FIELDS, (True, False, False, False), strict=False):
            data[f] = _yes_no(cells.get(f), default)
        member: MemberIn | None = None
        bad_fields: set[str] = set(masked_fields)
        try:
            member = MemberIn.model_validate(data)
        except ValidationError as e:
            row_ok = False
            for d, raw in zip(field_errors(e), e.errors(), strict=False):
                f = d["field"] or "name"
                bad_fields.add(f)
                if f in ("grid_id", "checkin_community_id") or f in masked_fields:
                    continue  # the grid, community and masked values were reported above
                typed_as_number = isinstance(cells.get("id_number"), (int, float))
                if f == "id_number" and d["code"] == "bad_id_number" and typed_as_number:
                    err(number, f, "id_number_as_number")
                elif f in COLUMNS:
                    params = {"n": (raw.get("ctx") or {}).get("max_length")} if d["code"] == "too_long" else {}
                    err(number, f, d["code"], **params)
        # Duplicates are looked for even in a row with other problems, so one pass reports them all.
        mobile: str | None
        id_number: str | None
        if member is not None:
            mobile, id_number = member.mobile, member.id_number
        else:
            # data's mobile and id_number are text (cell_text above)
            mobile = (
                normalise_mobile(cast(str, data["mobile"])) if "mobile" in data and "mobile" not in bad_fields else None
            )
            id_number = (
                normalise_id_number(cast(str, data["id_number"]))
                if "id_number" in data and "id_number" not in bad_fields
                else None
            )
        id_hash = hash_id_number(id_number, id_key) if id_number else None
        keys.append((number, mobile, id_hash))
        if mobile is None:
            pass
        elif mobile in first_mobile:
            row_ok = False
            err(number, "mobile", "duplicate_in_file", row=first_mobile[mobile], field="mobile")
        else:
            first_mobile[mobile] = number
        if id_hash is not None:
            if id_hash in first_id:
                row_ok = False
                err(number, "id_number", "duplicate_in_file", row=first_id[id_hash], field="id_number")
            else:
                first_id[id_hash] = number
        if row_ok and member is not None:
            row = member_row(tenant_id, member, id_hash=id_hash, now=None)
            candidates.append((number, {c: row[c] for c in IMPORTED_COLUMNS}))

    taken_mobiles = _existing(session, Member.mobile, tenant_id, list(first_mobile))
    taken_ids = _existing(session, Member.id_number_hash, tenant_id, list(first_id))
    clashing: set[int] = set()
    for number, mobile, id_hash in keys:
        if mobile in taken_mobiles:
            clashing.add(number)
            err(number, "mobile", "duplicate_in_district", field="mobile")
        if id_hash is not None and id_hash in taken_ids:
            clashing.add(number)
            err(number, "id_number", "duplicate_in_district", field="id_number")
    members = [m for number, m in candidates if number not in clashing]
    order = {f: i for i, f in enumerate(COLUMNS)}
    errors.sort(key=lambda e: (e["row"], order.get(e["field"], 99)))
    return CheckResult(total_rows=len(table.rows), members=[] if errors else members, errors=errors)


def _existing(session: Session, column, tenant_id: int, values: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), _IN_CHUNK):
        found.update(
            session.scalars(select(column).where(Member.tenant_id == tenant_id, column.in_(values[i : i + _IN_CHUNK])))
        )
    return found
