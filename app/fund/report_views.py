"""The fund's report pages: one page with a year and a breakdown (month, street, community, reason) —
a chart (static/js/reports.js with the vendored Chart.js), a table and its .xlsx — and the payees page
(payouts per payee over a year, largest first, to spot concentration). Scoped by the permission check:
a reader sees the payouts `fund.view` reaches."""

from __future__ import annotations

from io import BytesIO

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook

from app.access import path_filter, scopes_for
from app.db import get_session
from app.spreadsheets import XLSX_MIMETYPE, append_text_row

from . import reports
from .fund_views import get_fund
from .labels import REASON_LABELS
from .view_helpers import this_year

BREAKDOWNS = ("month", "street", "community", "reason")


def _breakdown_labels() -> dict[str, str]:
    return {
        "month": _("By month"),
        "street": _("By street"),
        "community": _("By community"),
        "reason": _("By reason"),
    }


def _args() -> tuple[int, str]:
    year = request.args.get("year", type=int) or this_year()
    year = max(2000, min(year, 2200))
    asked = request.args.get("by") or ""
    by = asked if asked in BREAKDOWNS else "month"
    return year, by


def _scope():
    whole = any(s.path is None for s in scopes_for(current_user, "fund.view"))
    return path_filter(current_user, "fund.view", reports.FundPayout.payee_path), whole


def _report(fund, year: int, by: str) -> reports.Report:
    db = get_session()
    scope, whole = _scope()
    t = current_user.tenant_id
    if by == "month":
        return reports.by_month(db, t, fund.id, year, scope, whole=whole)
    rep = {"street": reports.by_street, "community": reports.by_community, "reason": reports.by_reason}[by](
        db, t, fund.id, year, scope
    )
    if by == "reason":
        for r in rep.rows:
            r.label = str(REASON_LABELS.get(str(r.key), r.key))
    return rep


def _columns(by: str) -> list[tuple[str, str]]:
    cols = [("proposed", _("Proposed")), ("reserved", _("Reserved")), ("paid", _("Paid")), ("returned", _("Returned"))]
    if by == "month":
        return [("allocated", _("Allocated")), *cols, ("remaining", _("Remaining"))]
    return cols


@login_required
def report_page(fund_id: int):
    fund = get_fund(fund_id)
    year, by = _args()
    rep = _report(fund, year, by)
    cols = _columns(by)
    chart = {
        "type": "bar",
        "labels": [r.label for r in rep.rows],
        "series": [
            {"label": label, "data": [round((getattr(r, key) or 0) / 100, 2) for r in rep.rows]}
            for key, label in cols
            if key in ("allocated", "paid", "reserved", "returned")
        ],
    }
    return render_template(
        "fund/report.html",
        fund=fund,
        year=year,
        by=by,
        rep=rep,
        cols=cols,
        chart=chart,
        breakdowns=_breakdown_labels(),
        years=list(range(this_year(), this_year() - 6, -1)),
    )


def _xlsx(filename: str, title: str, header: list, rows: list[list]) -> Response:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    append_text_row(ws, header)
    for r in rows:
        append_text_row(ws, r)  # numbers stay numbers (yuan with two decimals)
    out = BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(), mimetype=XLSX_MIMETYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _yuan_number(fen: int | None):
    return None if fen is None else round(fen / 100, 2)


@login_required
def report_xlsx(fund_id: int):
    fund = get_fund(fund_id)
    year, by = _args()
    rep = _report(fund, year, by)
    cols = _columns(by)
    header = (
        [_breakdown_labels()[by]]
        + [_("%(label)s (yuan)", label=label) for _k, label in cols]
        + [_("Number of payouts")]
    )
    rows = [
        [str(r.label)[:200]] + [_yuan_number(getattr(r, k)) for k, _l in cols] + [r.payouts]
        for r in rep.rows + [rep.total]
    ]
    rows[-1][0] = _("Total")
    return _xlsx(f"fund-{fund.id}-{year}-{by}.xlsx", f"{year} {_breakdown_labels()[by]}", header, rows)


@login_required
def payees_page(fund_id: int):
    fund = get_fund(fund_id)
    year, _by = _args()
    scope, _whole = _scope()
    rep = reports.payees(get_session(), current_user.tenant_id, fund.id, year, scope, limit=200)
    chart = {
        "type": "bar",
        "labels": [r.name for r in rep.rows[:20]],
        "series": [{"label": _("Paid (yuan)"), "data": [round(r.paid / 100, 2) for r in rep.rows[:20]]}],
    }
    return render_template(
        "fund/report_payees.html",
        fund=fund,
        year=year,
        rep=rep,
        chart=chart,
        years=list(range(this_year(), this_year() - 6, -1)),
    )


@login_required
def payees_xlsx(fund_id: int):
    fund = get_fund(fund_id)
    year, _by = _args()
    scope, _whole = _scope()
    rep = reports.payees(get_session(), current_user.tenant_id, fund.id, year, scope, limit=None)
    header = [
        _("Payee"),
        _("Number of payouts"),
        _("Paid (yuan)"),
        _("Reserved (yuan)"),
        _("Share of paid"),
    ]
    rows = [[r.name, r.payouts, _yuan_number(r.paid), _yuan_number(r.open), round(r.share, 4)] for r in rep.rows]
    return _xlsx(f"fund-{fund.id}-{year}-payees.xlsx", _("%(year)s payees", year=year), header, rows)
