"""Member import from .xlsx / .csv: read the file, check every row (a dry run), write all rows or none.

The rules for one member are MemberIn's (schemas.py) and identity.py's; this module adds what only a
file has: column headers as offices write them, row numbers as Excel shows them, duplicates within the
file, grid names, and bulk writes (members, their wallets and one audit event in one transaction).
It never touches a Flask request; `run_import_job` runs the real import in a background thread.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.audit.services import record
from app.db import unit_of_work, utcnow
from app.errors import ValidationFailed
from app.places.models import OrgUnit
from app.validation import field_errors
from ledger import Ledger

from .identity import hash_id_number, mask_id_number, normalise_id_number, normalise_mobile
from .models import ImportJob, Member
from .schemas import MemberIn

MAX_ROWS = 50_000  # per file; a dry run of this many rows still answers within a request
WRITE_CHUNK = 1000  # rows per INSERT (and per progress update)
_IN_CHUNK = 1000  # values per IN (...) lookup

# field -> accepted headers (compared after _normalise_header). The first is the canonical Chinese name.
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
TEMPLATE_HEADERS = [aliases[0] for aliases in COLUMNS.values()]
_YES = {"是", "y", "yes", "1", "true", "t", "√", "✓", "on"}
_NO = {"否", "n", "no", "0", "false", "f", "×", "✗", "off"}


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be read (encoding, format, missing columns, empty, too long)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class ImportRejected(Exception):
    """The real import found bad rows (the district changed since the dry run); nothing was written."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors


@dataclass
class Table:
    """A file's header map and its data rows (blank rows left out), each with its Excel row number."""

    headers: dict[str, str]  # field -> the header as written in the file
    rows: list[tuple[int, dict[str, object]]]


@dataclass
class CheckResult:
    total_rows: int
    members: list[dict] = field(default_factory=list)  # insert-ready values, only when there are no errors
    errors: list[dict] = field(default_factory=list)  # {"row", "column", "code", "reason"}, row order


# ---------------------------------------------------------------- reading


def _normalise_header(raw) -> str:
    s = re.sub(r"[\s*＊]", "", str(raw if raw is not None else ""))
    s = re.sub(r"[（(][^）)]*[）)]$", "", s)  # "党员（是/否）", "姓名(必填)"
    if s.startswith("是否"):
        s = s[2:]
    return s.lower().replace("-", "_")


_ALIAS_TO_FIELD = {_normalise_header(a): f for f, aliases in COLUMNS.items() for a in aliases}


def read_table(filename: str, content: bytes) -> Table:
    """Read an .xlsx or .csv upload into a Table; raise ImportFileError when the file as a whole is unusable."""
    name = (filename or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        records = _xlsx_records(content)
    elif name.endswith(".csv") or name.endswith(".txt"):
        records = _csv_records(content)
    elif name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("unsupported_format", _("This is an old .xls workbook: in Excel or WPS choose "
                                                      "Save As → Excel Workbook (.xlsx), then upload that file."))
    else:
        raise ImportFileError("unsupported_format", _("Upload an Excel workbook (.xlsx) or a CSV file."))
    return _table_from_records(records)


def _table_from_records(records: Iterator[tuple[int, list]]) -> Table:
    first = next(records, None)
    if first is None:
        raise ImportFileError("empty", _("The file is empty: the first row must name the columns."))
    header_cells = first[1]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for i, raw in enumerate(header_cells):
        f = _ALIAS_TO_FIELD.get(_normalise_header(raw))
        if f is None:
            continue  # offices add 序号, 备注… — other columns are ignored
        if f in positions:
            raise ImportFileError("duplicate_column", _("The columns %(a)s and %(b)s mean the same thing: keep one.",
                                                        a=headers[f], b=str(raw).strip()))
        positions[f], headers[f] = i, str(raw).strip()
    missing = [COLUMNS[f][0] for f in REQUIRED if f not in positions]
    if missing:
        raise ImportFileError("missing_columns", _(
            "Missing columns: %(columns)s. The first row must name the columns; download the template to see them.",
            columns="、".join(missing)))
    rows = []
    for number, cells in records:
        values = {f: (cells[i] if i < len(cells) else None) for f, i in positions.items()}
        if all(_blank(v) for v in values.values()):
            continue  # empty rows at the end of a sheet are not members
        if len(rows) >= MAX_ROWS:
            raise ImportFileError("too_many_rows", _("The file has more than %(n)s rows: split it (by community, "
                                                     "for example) and import each part.", n=f"{MAX_ROWS:,}"))
        rows.append((number, values))
    if not rows:
        raise ImportFileError("empty", _("The file has column headers but no members below them."))
    return Table(headers, rows)


def _xlsx_records(content: bytes) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # WPS and others write styles openpyxl warns about; harmless here
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise ImportFileError("bad_file", _("This file could not be opened as an Excel workbook (.xlsx). "
                                            "Open it in Excel or WPS and save it again.")) from None
    return _sheet_rows(wb)


def _sheet_rows(wb) -> Iterator[tuple[int, list]]:
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # some tools write a wrong <dimension>; read what is really there
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
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
        raise ImportFileError("encoding", _("The file's text encoding is not UTF-8 or GBK/GB18030. Save the CSV "
                                            "as “CSV UTF-8” (or as an .xlsx workbook) and upload it again."))
    if "\x00" in text:  # no text column takes NUL (PostgreSQL refuses it); a CSV holding one is not text
        raise ImportFileError("bad_file", _("This CSV file could not be read. Save it from Excel or WPS again."))
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count) if first_line else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise ImportFileError("bad_file",
                              _("This CSV file could not be read. Save it from Excel or WPS again.")) from None
    return iter([(n, row) for n, row in enumerate(rows, start=1)])


# ---------------------------------------------------------------- checking


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _text(v) -> str:
    """A cell as text: Excel gives numbers as int or float (13800138000.0)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _yes_no(v, default: bool):
    """是/否, Y/N, 1/0, true/false → bool; anything else goes to MemberIn unchanged, which refuses it."""
    if _blank(v):
        return default
    if isinstance(v, bool):
        return v
    s = _text(v).lower()
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

    def find(self, value, kinds: tuple[str, ...], name_kind: str,
             prefer: Callable[[OrgUnit], bool] | None = None) -> tuple[OrgUnit | None, str | None]:
        """(unit, None) or (None, "unknown" | "ambiguous")."""
        s = _text(value)
        if s.isdigit():
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


def check_rows(session: Session, tenant_id: int, table: Table, *, may_edit: Callable[[OrgUnit], bool],
               id_key: bytes) -> CheckResult:
    """The dry run: every problem of every row, with the row number and column the user sees.

    `may_edit(unit)` says whether the importing user may add members to a grid; a grid outside it is
    reported exactly like an unknown grid. Nothing is written."""
    units = _Units(session, tenant_id)
    errors: list[dict] = []
    col = table.headers

    def err(row: int, f: str, code: str, reason: str) -> None:
        errors.append({"row": row, "column": col.get(f, COLUMNS[f][0]), "code": code, "reason": reason})

    candidates: list[tuple[int, dict]] = []  # rows that passed the row-level rules
    keys: list[tuple[int, str | None, str | None]] = []  # (row, mobile, ID hash) of every row, to find duplicates
    first_mobile: dict[str, int] = {}
    first_id: dict[str, int] = {}
    for number, cells in table.rows:
        row_ok = True
        grid, problem = (None, "missing") if _blank(cells.get("grid")) else units.find(
            cells["grid"], ("grid", "building"), "residence", prefer=may_edit)
        if grid is not None and not may_edit(grid):
            grid, problem = None, "unknown"
        if grid is None:
            row_ok = False
            if problem == "missing":
                err(number, "grid", "missing", _("This field is required."))
            elif problem == "ambiguous":
                err(number, "grid", "ambiguous_grid",
                    _("Several grids have this name: write the grid number instead (shown on the grid's page)."))
            else:
                err(number, "grid", "unknown_grid", _("Unknown grid, or a grid outside your area: write the number "
                                                      "or exact name of a grid you manage."))
        community_id = None
        if not _blank(cells.get("checkin_community")):
            community, problem = units.find(cells["checkin_community"], ("community",), "community")
            if community is None:
                row_ok = False
                err(number, "checkin_community", "unknown_community" if problem == "unknown" else "ambiguous_community",
                    _("Unknown community: write the number or exact name of a community of this district.")
                    if problem == "unknown" else _("Several communities have this name: write the community number."))
            else:
                community_id = community.id
        data: dict[str, object] = {"checkin_community_id": community_id}
        if grid is not None:
            data["grid_id"] = grid.id
        for f in ("name", "mobile", "id_number", "party_org"):
            if not _blank(cells.get(f)):
                data[f] = _text(cells[f])
        for f, default in zip(BOOLEAN_FIELDS, (True, False, False, False)):
            data[f] = _yes_no(cells.get(f), default)
        member: MemberIn | None = None
        bad_fields: set[str] = set()
        try:
            member = MemberIn.model_validate(data)
        except ValidationError as e:
            row_ok = False
            for d in field_errors(e):
                f = d["field"] or "name"
                bad_fields.add(f)
                if f in ("grid_id", "checkin_community_id"):
                    continue  # the grid and community were looked up above, and their problems reported there
                typed_as_number = isinstance(cells.get("id_number"), (int, float))
                if f == "id_number" and d["code"] == "bad_id_number" and typed_as_number:
                    err(number, f, "id_number_as_number", _(
                        "Excel stored this ID number as a number and lost its last digits: format the column as "
                        "Text, type the number again, and upload the file again."))
                elif f in COLUMNS:
                    err(number, f, d["code"], d["message"])
        # Duplicates are looked for even in a row with other problems, so one pass reports them all.
        if member is not None:
            mobile, id_number = member.mobile, member.id_number
        else:
            mobile = normalise_mobile(data["mobile"]) if "mobile" in data and "mobile" not in bad_fields else None
            id_number = (normalise_id_number(data["id_number"])
                         if "id_number" in data and "id_number" not in bad_fields else None)
        id_hash = hash_id_number(id_number, id_key) if id_number else None
        keys.append((number, mobile, id_hash))
        if mobile is None:
            pass
        elif mobile in first_mobile:
            row_ok = False
            err(number, "mobile", "duplicate_in_file",
                _("The same mobile number as row %(row)d of this file.", row=first_mobile[mobile]))
        else:
            first_mobile[mobile] = number
        if id_hash is not None:
            if id_hash in first_id:
                row_ok = False
                err(number, "id_number", "duplicate_in_file",
                    _("The same ID number as row %(row)d of this file.", row=first_id[id_hash]))
            else:
                first_id[id_hash] = number
        if row_ok and member is not None:
            party = member.is_party_member
            candidates.append((number, {
                "name": member.name, "mobile": member.mobile, "mobile_tail": member.mobile[-4:],
                "id_number_hash": id_hash,
                "id_number_masked": mask_id_number(member.id_number) if member.id_number else None,
                "grid_id": member.grid_id, "is_volunteer": member.is_volunteer, "is_party_member": party,
                "party_org": member.party_org if party else None,
                "checkin_community_id": member.checkin_community_id if party else None,
                "is_grid_worker": member.is_grid_worker, "is_building_head": member.is_building_head,
            }))

    taken_mobiles = _existing(session, Member.mobile, tenant_id, list(first_mobile))
    taken_ids = _existing(session, Member.id_number_hash, tenant_id, list(first_id))
    clashing: set[int] = set()
    for number, mobile, id_hash in keys:
        if mobile in taken_mobiles:
            clashing.add(number)
            err(number, "mobile", "duplicate_in_district",
                _("A member of this district already has this mobile number."))
        if id_hash is not None and id_hash in taken_ids:
            clashing.add(number)
            err(number, "id_number", "duplicate_in_district",
                _("A member of this district already has this ID number."))
    members = [m for number, m in candidates if number not in clashing]
    order = {f: i for i, f in enumerate(COLUMNS)}
    field_of = {v: k for k, v in col.items()} | {aliases[0]: f for f, aliases in COLUMNS.items()}
    errors.sort(key=lambda e: (e["row"], order.get(field_of.get(e["column"], ""), 99)))
    return CheckResult(total_rows=len(table.rows), members=[] if errors else members, errors=errors)


def _existing(session: Session, column, tenant_id: int, values: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), _IN_CHUNK):
        found.update(session.scalars(select(column).where(Member.tenant_id == tenant_id,
                                                          column.in_(values[i:i + _IN_CHUNK]))))
    return found


def dry_run(session: Session, tenant_id: int, filename: str, content: bytes, *,
            may_edit: Callable[[OrgUnit], bool], id_key: bytes) -> CheckResult:
    return check_rows(session, tenant_id, read_table(filename, content), may_edit=may_edit, id_key=id_key)


# ---------------------------------------------------------------- writing


def write_members(session: Session, tenant_id: int, members: list[dict], *, actor_user_id: int | None,
                  filename: str, progress: Callable[[int], None] | None = None) -> list[int]:
    """Insert checked members in bulk, open their PT wallets, record one "member.import" event.

    Only flushes: the caller's transaction commits all of it or none."""
    now = utcnow()
    ids: list[int] = []
    insert_chunk = _insert_unnest if session.get_bind().dialect.name == "postgresql" else _insert_many
    for i in range(0, len(members), WRITE_CHUNK):
        ids.extend(insert_chunk(session, tenant_id, members[i:i + WRITE_CHUNK], now))
        if progress is not None:
            progress(len(ids))
    Ledger(session, tenant=tenant_id).open_accounts([f"member:{i}" for i in ids], unit="PT", normal="credit",
                                                    no_overdraft=True)
    record(session, "member.import", tenant_id=tenant_id, actor_user_id=actor_user_id, target_type="member",
           detail={"filename": filename, "rows": len(members), "imported": len(ids), "wallets": len(ids)})
    return ids


_MEMBER_COLUMNS = ("name", "mobile", "mobile_tail", "id_number_hash", "id_number_masked", "grid_id", "is_volunteer",
                   "is_party_member", "party_org", "checkin_community_id", "is_grid_worker", "is_building_head")


def _insert_many(session: Session, tenant_id: int, batch: list[dict], now) -> list[int]:
    table = Member.__table__
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    rows = [{**m, "tenant_id": tenant_id, "status": "active", "created_at": now, "updated_at": now} for m in batch]
    return list(session.execute(stmt, rows).scalars())


def _insert_unnest(session: Session, tenant_id: int, batch: list[dict], now) -> list[int]:
    """PostgreSQL: one INSERT … SELECT unnest(array per column). psycopg then converts 12 parameters,
    not 12,000 as a multi-row VALUES list has: about six times faster for a 10,000-row import."""
    table = Member.__table__
    arrays = select(*[func.unnest(bindparam(c, type_=ARRAY(table.c[c].type))).label(c)
                      for c in _MEMBER_COLUMNS]).subquery()
    stmt = insert(table).from_select(
        [*_MEMBER_COLUMNS, "tenant_id", "status", "created_at", "updated_at"],
        select(*[arrays.c[c] for c in _MEMBER_COLUMNS], literal(tenant_id, table.c.tenant_id.type),
               literal("active"), literal(now, table.c.created_at.type), literal(now, table.c.updated_at.type)),
    ).returning(table.c.id, table.c.mobile)
    # RETURNING's order is not promised for INSERT … SELECT: match ids back by mobile (unique in the file).
    params = {c: [m[c] for m in batch] for c in _MEMBER_COLUMNS}
    id_of = {mobile: id_ for id_, mobile in session.execute(stmt, params)}
    return [id_of[m["mobile"]] for m in batch]


def import_file(session: Session, tenant_id: int, filename: str, content: bytes, *,
                may_edit: Callable[[OrgUnit], bool], id_key: bytes, actor_user_id: int | None = None,
                progress: Callable[[int], None] | None = None) -> list[int]:
    """Check the file, then write every member or raise ImportRejected (writing nothing)."""
    result = dry_run(session, tenant_id, filename, content, may_edit=may_edit, id_key=id_key)
    if result.errors:
        raise ImportRejected(result.errors)
    return write_members(session, tenant_id, result.members, actor_user_id=actor_user_id, filename=filename,
                         progress=progress)


# ---------------------------------------------------------------- the background job


def start_import_thread(app, job_id: int, principal, locale: str) -> threading.Thread:
    """Run a checked job's import in a thread with its own unit of work; the page polls its progress."""
    thread = threading.Thread(target=_job_thread, args=(app, job_id, principal, locale),
                              name=f"member-import-{job_id}")
    thread.start()
    return thread


def _job_thread(app, job_id: int, principal, locale: str) -> None:
    from app.access import can

    from .services import id_hash_key

    with app.app_context(), force_locale(locale):
        try:
            run_import_job(app.extensions["db_sessionmaker"], job_id,
                           may_edit=lambda unit: can(principal, "member.edit", unit),
                           id_key=id_hash_key(), actor_user_id=principal.user_id)
        except Exception:
            app.logger.exception("member import job %s failed", job_id)


# job id -> rows written so far, for jobs running in this process (see run_import_job).
LIVE_PROGRESS: dict[int, int] = {}


def run_import_job(factory: sessionmaker, job_id: int, *, may_edit: Callable[[OrgUnit], bool], id_key: bytes,
                   actor_user_id: int | None) -> bool:
    """Claim a checked job and import it: the members in ONE transaction, the progress in short ones.

    Returns False when the job was not waiting to be imported (another click already claimed it)."""
    with unit_of_work(factory) as s:
        now = utcnow()
        # A checked job, or one whose import was cut off (see ImportJob.interrupted): nothing of it
        # was written, because the members commit together with "done".
        waiting = or_(ImportJob.status == "checked",
                      and_(ImportJob.status == "importing", ImportJob.started_at < now - ImportJob.STALE_AFTER))
        claimed = s.execute(update(ImportJob).where(ImportJob.id == job_id, waiting, ImportJob.error_count == 0)
                            .values(status="importing", processed_rows=0, message=None, started_at=now)).rowcount
        if claimed != 1:
            return False
        job = s.get(ImportJob, job_id)
        tenant_id, filename, content = job.tenant_id, job.filename, job.content

    # SQLite has one writer at a time and the import's transaction holds it until it commits, so a
    # progress transaction would wait for the import itself. There the progress is kept in this
    # process only (LIVE_PROGRESS, read by the status page); elsewhere it is also written to the job.
    live = factory.kw["bind"].dialect.name != "sqlite"

    def progress(n: int) -> None:
        LIVE_PROGRESS[job_id] = n
        if live:
            with unit_of_work(factory) as ps:
                ps.execute(update(ImportJob).where(ImportJob.id == job_id).values(processed_rows=n))

    try:
        with unit_of_work(factory) as s:
            ids = import_file(s, tenant_id, filename, content, may_edit=may_edit, id_key=id_key,
                              actor_user_id=actor_user_id, progress=progress)
            # Marked done in the same transaction as the members, so "done" and the rows commit together.
            s.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                status="done", processed_rows=len(ids), imported_count=len(ids), finished_at=utcnow(),
                message=_("%(n)d members were imported, each with a points wallet.", n=len(ids))))
        return True
    except ImportRejected as e:
        _fail(factory, job_id, _("The file no longer passes the checks (the district changed since the check): "
                                 "%(n)d problems. Nothing was imported.", n=len(e.errors)), e.errors)
    except ImportFileError as e:
        _fail(factory, job_id, e.message)
    except IntegrityError:
        _fail(factory, job_id, _("Someone added a member with the same mobile or ID number while the import ran. "
                                 "Nothing was imported; upload the file again to check it."))
    except Exception:
        _fail(factory, job_id, _("The import failed on our side. Nothing was imported; please try again."))
        raise
    finally:
        LIVE_PROGRESS.pop(job_id, None)
    return True


def _fail(factory: sessionmaker, job_id: int, message: str, errors: Iterable[dict] | None = None) -> None:
    values: dict = {"status": "failed", "message": message[:500], "finished_at": utcnow(), "processed_rows": 0}
    if errors is not None:
        errors = list(errors)
        values |= {"errors": errors, "error_count": len(errors)}
    with unit_of_work(factory) as s:
        s.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


# ---------------------------------------------------------------- the template


def template_xlsx(example_grid: str) -> bytes:
    """An .xlsx with the column headers and one example row; mobile and ID columns formatted as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from .identity import id_check_char

    wb = Workbook()
    ws = wb.active
    ws.title = "members"
    ws.append(TEMPLATE_HEADERS)
    first17 = "11010519491231002"
    ws.append(["张三", "13800138000", first17 + id_check_char(first17), example_grid, "是", "否", "", "", "否", "否"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGHIJ", (10, 15, 22, 24, 8, 8, 18, 16, 8, 8)):
        ws.column_dimensions[letter].width = width
    # Typed as text, so Excel keeps all 18 characters of an ID number and the leading digits of a mobile.
    for letter in ("B", "C"):
        for row in range(2, 2001):
            ws[f"{letter}{row}"].number_format = "@"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
