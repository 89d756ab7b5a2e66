"""The catalogue in and out as .xlsx: the export (one row per item, the columns the import reads),
and the import — read with app/spreadsheets.py, every row checked first (a dry run shows what would
change and every row's problems, saying what to fix), then applied all or none in one transaction.

A row names an item by its name: a new name adds an item, a known one changes it; a different price
is a new price version (the old stays with the redemptions made at it). The 供应网点 column lists the
outlets that offer the item (names separated by 、 or commas; 全部 for all; empty: left as it is)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from io import BytesIO

from flask_babel import gettext as _
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.spreadsheets import append_text_row, blank, cell_text, read_table

from .labels import GOODS, ITEM_KINDS, LIMIT_PERIODS, SERVICE
from .models import Item, Outlet, OutletItem

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "name", "物品名称", "商品名称", "item"),
    "category": ("类别", "category", "分类"),
    "kind": ("类型", "kind", "type"),
    "unit_name": ("单位", "unit"),
    "points": ("积分", "points", "price", "兑换积分", "所需积分"),
    "limit_qty": ("限兑数量", "limit", "limit_qty", "每人限兑"),
    "limit_period": ("限兑周期", "limit_period", "period"),
    "value_yuan": ("估值（元）", "value", "value_yuan", "估值", "单价"),
    "description": ("说明", "description", "备注说明"),
    "active": ("在售", "active", "上架"),
    "outlets": ("供应网点", "outlets", "网点"),
}
REQUIRED = ("name", "points")
KIND_WORDS = {"商品": GOODS, "物品": GOODS, "goods": GOODS, "服务": SERVICE, "service": SERVICE}
PERIOD_WORDS = {
    "每天": "day",
    "每日": "day",
    "天": "day",
    "日": "day",
    "day": "day",
    "每周": "week",
    "周": "week",
    "week": "week",
    "每月": "month",
    "月": "month",
    "month": "month",
    "每年": "year",
    "年": "year",
    "year": "year",
}
PERIOD_OUT = {"day": "每天", "week": "每周", "month": "每月", "year": "每年"}
YES = {"是", "1", "yes", "y", "true", "在售", "上架"}
NO = {"否", "0", "no", "n", "false", "停售", "下架"}
ALL_OUTLETS = {"全部", "all", "所有"}
MAX_POINTS = 100_000
MAX_LIMIT = 10_000


@dataclass
class RowPlan:
    """One row as it would be applied: the item (None: a new one), its values, what changes."""

    row: int
    name: str
    values: dict
    item_id: int | None = None
    price_changes: tuple[int | None, int | None] | None = None  # (old points, new points)
    changes: list[str] = field(default_factory=list)
    outlet_ids: list[int] | None = None  # None: availability left as it is


@dataclass
class ImportCheck:
    """The dry run's answer: what each row would do, and each row's problems (none: it can apply)."""

    plans: list[RowPlan]
    problems: list[tuple[int, str]]  # (row number, what to fix)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def added(self) -> int:
        return sum(1 for p in self.plans if p.item_id is None)

    @property
    def changed(self) -> int:
        return sum(1 for p in self.plans if p.item_id is not None and (p.changes or p.price_changes))


def _int(v) -> int | None:
    text = cell_text(v).replace(",", "")
    if re.fullmatch(r"\d+", text):
        return int(text)
    return None


def _yuan_to_fen(v) -> int | None:
    text = cell_text(v).replace(",", "").removeprefix("¥").removeprefix("￥").strip()
    if not re.fullmatch(r"\d+(\.\d{1,2})?", text):
        return None
    whole, _dot, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def check_import(session: Session, tenant_id: int, filename: str, content: bytes) -> ImportCheck:
    """Read and check a catalogue file; nothing is written. Raises SpreadsheetError when the file as
    a whole cannot be used (format, missing columns, empty)."""
    table = read_table(filename, content, COLUMNS, REQUIRED)
    items = {i.name: i for i in session.scalars(select(Item).where(Item.tenant_id == tenant_id))}
    outlets = {o.name: o.id for o in session.scalars(select(Outlet).where(Outlet.tenant_id == tenant_id))}
    plans: list[RowPlan] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        bad: list[str] = []
        name = " ".join(cell_text(cells.get("name")).split())
        if not name:
            bad.append(_("the name (%(column)s) is empty: give the item’s name", column=table.headers["name"]))
        elif len(name) > 100:
            bad.append(_("the name is longer than 100 characters: shorten it"))
        elif name in seen:
            bad.append(
                _("the item %(name)s is already on row %(row)d: keep one row per item", name=name, row=seen[name])
            )
        else:
            seen[name] = number
        item = items.get(name)
        values: dict = {}

        points = _int(cells.get("points"))
        if points is None or not 1 <= points <= MAX_POINTS:
            bad.append(
                _(
                    "%(column)s must be a whole number of points from 1 to %(max)s (it says “%(value)s”)",
                    column=table.headers["points"],
                    max=MAX_POINTS,
                    value=cell_text(cells.get("points")),
                )
            )
        values["points"] = points

        def text(field_name: str, limit: int, default=None, cells=cells, bad=bad):
            if field_name not in table.headers or blank(cells.get(field_name)):
                return default
            value = cell_text(cells.get(field_name))
            if len(value) > limit:
                bad.append(
                    _(
                        "%(column)s is longer than %(n)d characters: shorten it",
                        column=table.headers[field_name],
                        n=limit,
                    )
                )
            return value[:limit]

        values["category"] = text("category", 50, item.category if item else "")
        values["unit_name"] = text("unit_name", 16, item.unit_name if item else "")
        values["description"] = text("description", 1000, item.description if item else "")

        kind_raw = text("kind", 20)
        if kind_raw is None:
            values["kind"] = item.kind if item else GOODS
        elif KIND_WORDS.get(kind_raw.lower()) in ITEM_KINDS:
            values["kind"] = KIND_WORDS[kind_raw.lower()]
        else:
            bad.append(
                _("%(column)s must be 商品 or 服务 (it says “%(value)s”)", column=table.headers["kind"], value=kind_raw)
            )

        qty_raw = text("limit_qty", 20)
        period_raw = text("limit_period", 20)
        if qty_raw is None and period_raw is None:
            values["limit_qty"], values["limit_period"] = (item.limit_qty, item.limit_period) if item else (None, None)
        elif qty_raw in (None, "0", "不限") and period_raw in (None, "不限"):
            values["limit_qty"], values["limit_period"] = None, None
        else:
            qty = _int(qty_raw)
            period = PERIOD_WORDS.get((period_raw or "").lower())
            if qty is None or not 1 <= qty <= MAX_LIMIT:
                bad.append(
                    _(
                        "the limit must be a whole number from 1 to %(max)d, with a period "
                        "(每天, 每周, 每月 or 每年); leave both empty for no limit",
                        max=MAX_LIMIT,
                    )
                )
            elif period not in LIMIT_PERIODS:
                bad.append(
                    _("the limit period must be 每天, 每周, 每月 or 每年 (it says “%(value)s”)", value=period_raw or "")
                )
            values["limit_qty"], values["limit_period"] = qty, period

        value_raw = text("value_yuan", 20)
        if value_raw is None:
            values["value_fen"] = item.value_fen if item else None
        else:
            fen = _yuan_to_fen(value_raw)
            if fen is None:
                bad.append(
                    _(
                        "%(column)s must be an amount in yuan such as 25 or 25.50 (it says “%(value)s”)",
                        column=table.headers["value_yuan"],
                        value=value_raw,
                    )
                )
            values["value_fen"] = fen

        active_raw = text("active", 10)
        if active_raw is None:
            values["active"] = item.active if item else True
        elif active_raw.lower() in YES:
            values["active"] = True
        elif active_raw.lower() in NO:
            values["active"] = False
        else:
            bad.append(
                _("%(column)s must be 是 or 否 (it says “%(value)s”)", column=table.headers["active"], value=active_raw)
            )

        outlet_ids = None
        outlets_raw = text("outlets", 1000)
        if outlets_raw is not None:
            if outlets_raw.lower() in ALL_OUTLETS:
                outlet_ids = sorted(outlets.values())
            else:
                names = [n.strip() for n in re.split(r"[、,，;；\n]", outlets_raw) if n.strip()]
                unknown = [n for n in names if n not in outlets]
                if unknown:
                    bad.append(
                        _(
                            "no outlet is called %(names)s: "
                            "write the outlet names as the outlet list shows them, or 全部",
                            names="、".join(unknown),
                        )
                    )
                outlet_ids = sorted({outlets[n] for n in names if n in outlets})

        for b in bad:
            problems.append((number, b))
        if bad:
            continue
        plan = RowPlan(number, name, values, item_id=item.id if item else None, outlet_ids=outlet_ids)
        if item is not None:
            current = item.prices[0].points if item.prices else None
            if current != points:
                plan.price_changes = (current, points)
            for key in (
                "category",
                "unit_name",
                "description",
                "kind",
                "limit_qty",
                "limit_period",
                "value_fen",
                "active",
            ):
                if getattr(item, key) != values[key]:
                    plan.changes.append(key)
        else:
            plan.price_changes = (None, points) if points else None
        plans.append(plan)
    return ImportCheck(plans, problems)


def export_rows(session: Session, tenant_id: int) -> list[list]:
    """The catalogue as rows under the import's own headers (so an export can be edited and imported)."""
    items = list(session.scalars(select(Item).where(Item.tenant_id == tenant_id).order_by(Item.category, Item.name)))
    outlets = dict(session.execute(select(Outlet.id, Outlet.name).where(Outlet.tenant_id == tenant_id)).all())
    offered: dict[int, list[str]] = {}
    for item_id, outlet_id in session.execute(
        select(OutletItem.item_id, OutletItem.outlet_id)
        .where(OutletItem.tenant_id == tenant_id, OutletItem.available.is_(True))
        .order_by(OutletItem.outlet_id)
    ):
        offered.setdefault(item_id, []).append(outlets.get(outlet_id, ""))
    rows = []
    for i in items:
        at = offered.get(i.id, [])
        rows.append(
            [
                i.name,
                i.category,
                "服务" if i.kind == SERVICE else "商品",
                i.unit_name,
                i.prices[0].points if i.prices else "",
                i.limit_qty or "",
                PERIOD_OUT.get(i.limit_period or "", ""),
                f"{i.value_fen / 100:.2f}" if i.value_fen is not None else "",
                i.description,
                "是" if i.active else "否",
                "全部" if outlets and len(at) == len(outlets) else "、".join(at),
            ]
        )
    return rows


HEADERS = [c[0] for c in COLUMNS.values()]


def workbook(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "目录"
    append_text_row(ws, HEADERS)
    for r in rows:
        append_text_row(ws, r)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
