"""The district's view of all outlets side by side (redemptions, points collected, items out, stock and
its value, low-stock items), the most redeemed items and the slow movers, for a period; with charts
(the vendored Chart.js) and an .xlsx export. Only the outlets in the user's reach are shown."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook

from app.access import require
from app.db import get_session
from app.spreadsheets import XLSX_MIMETYPE, append_text_row

from . import outlets as outlet_services
from .page_queries import beijing_today, district_view

MAX_DAYS = 366 * 3


def _period() -> tuple[date, date]:
    today = beijing_today()
    default = (today.replace(day=1), today)
    try:
        start = date.fromisoformat(request.args.get("from") or default[0].isoformat())
        end = date.fromisoformat(request.args.get("to") or default[1].isoformat())
    except ValueError:
        return default
    if min(start.year, end.year) < 1900:  # before any record, and out of reach of the time-zone arithmetic
        return default
    if start > end:
        start, end = end, start
    end = min(end, today)
    if (end - start).days > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS)
    return start, end


def _view():
    require(current_user, "outlet.view")
    db = get_session()
    start, end = _period()
    outlets = list(db.scalars(outlet_services.outlets_query(current_user)))
    return start, end, district_view(db, current_user.tenant_id, outlets, start, end)


@login_required
def district_page():
    start, end, view = _view()
    rows = sorted(view.rows, key=lambda r: (-r.points, r.outlet.name))
    outlets_chart = {
        "type": "bar",
        "labels": [r.outlet.name.replace("爱心超市", "") or r.outlet.name for r in rows],
        "series": [
            {"label": _("Points collected"), "data": [r.points for r in rows]},
            {"label": _("Items out"), "data": [r.items_out for r in rows]},
        ],
    }
    items_chart = {
        "type": "bar",
        "labels": [r.item.name for r in view.popular],
        "series": [{"label": _("Pieces redeemed"), "data": [r.qty for r in view.popular]}],
    }
    return render_template(
        "outlets/district.html",
        start=start,
        end=end,
        rows=rows,
        view=view,
        outlets_chart=outlets_chart,
        items_chart=items_chart,
        totals={
            "redemptions": sum(r.redemptions for r in rows),
            "points": sum(r.points for r in rows),
            "items_out": sum(r.items_out for r in rows),
            "value": sum(r.stock_value_fen for r in rows),
        },
        today=beijing_today(),
    )


@login_required
def district_xlsx():
    start, end, view = _view()
    wb = Workbook()
    ws = wb.active
    ws.title = _("Outlets")[:31]
    append_text_row(ws, [_("From"), start.isoformat(), _("To"), end.isoformat()])
    append_text_row(
        ws,
        [
            _("Outlet"),
            _("Community or street"),
            _("Redemptions"),
            _("Points collected"),
            _("Items out"),
            _("Pieces on the shelves"),
            _("Stock value (¥)"),
            _("Items low on stock"),
        ],
    )
    for r in sorted(view.rows, key=lambda r: r.outlet.name):
        append_text_row(
            ws,
            [
                r.outlet.name,
                r.outlet.org_unit.name,
                r.redemptions,
                r.points,
                r.items_out,
                r.stock_pieces,
                round(r.stock_value_fen / 100, 2),
                r.low_items,
            ],
        )
    for title, rows in ((_("Popular items"), view.popular), (_("Slow movers"), view.slow)):
        sheet = wb.create_sheet(title[:31])
        append_text_row(
            sheet, [_("Item"), _("Category"), _("Pieces redeemed"), _("Points"), _("Pieces on the shelves")]
        )
        for it in rows:
            append_text_row(sheet, [it.item.name, it.item.category, it.qty, it.points, it.on_shelf])
    out = BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        mimetype=XLSX_MIMETYPE,
        headers={
            "Content-Disposition": f'attachment; filename="outlets-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"',
            "Cache-Control": "no-store",
        },
    )
