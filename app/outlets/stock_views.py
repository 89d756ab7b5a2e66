"""Stock pages of one outlet: what is on the shelf, goods in (a donation with its donor and estimated value,
or a purchase), a transfer to another outlet and a write-off with its reason — each shown for
confirmation before it is posted, and idempotent by the form's key; the stock count (盘点) taken on a
phone, its differences against the books and their recording as adjustments with reasons; and the
stock report (账物相符) of one outlet, or of every outlet in reach, at any date."""

from __future__ import annotations

import secrets
from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from app.access import can, require
from app.db import get_session
from app.errors import AppError, NotFound, ValidationFailed
from app.forms import Form, show_errors
from app.times import beijing

from . import outlets as outlet_services
from . import stock as stock_services
from .admin_views import outlet_for
from .catalogue_views import _fen
from .forms import CountForm, MovementForm
from .labels import (
    COUNT_STATUS_LABELS,
    DONATION,
    MOVEMENT_LABELS,
    PENDING,
    PURCHASE,
    TRANSFER,
    WRITE_OFF,
    WRITE_OFF_REASON_LABELS,
)
from .models import Outlet, StockCount, StockMovement
from .page_queries import beijing_today, day_end, day_start, month_bounds, stock_lines

KINDS = (DONATION, PURCHASE, TRANSFER, WRITE_OFF)
MAX_QTY = 1_000_000


def _goods(outlet: Outlet) -> list:
    """The outlet's goods lines (offered, or holding stock), for the quantity inputs."""
    return [line for line in stock_lines(get_session(), outlet) if line.item.kind == "goods"]


def _quantities(items, prefix: str = "qty", allow_zero: bool = False) -> tuple[list[tuple[int, int]], list[str]]:
    """(item id, qty) pairs from the posted `<prefix>-<item id>` fields; blank means none. Problems name the item."""
    pairs, problems = [], []
    for item in items:
        raw = (request.form.get(f"{prefix}-{item.id}") or "").strip()
        if raw == "":
            continue
        if not raw.isdecimal() or len(raw) > 7 or int(raw) > MAX_QTY:
            problems.append(
                _("%(name)s: write a whole number of pieces (it says “%(value)s”).", name=item.name, value=raw[:20])
            )
            continue
        qty = int(raw)
        if qty or allow_zero:
            pairs.append((item.id, qty))
    return pairs, problems


@login_required
def stock(outlet_id: int):
    db = get_session()
    outlet = outlet_for(outlet_id, "outlet.stock.view")
    lines = stock_lines(db, outlet)
    movements = list(
        db.scalars(
            select(StockMovement)
            .where(or_(StockMovement.outlet_id == outlet.id, StockMovement.to_outlet_id == outlet.id))
            .order_by(StockMovement.created_at.desc(), StockMovement.id.desc())
            .limit(20)
        )
    )
    pending = db.scalars(
        select(StockCount)
        .where(StockCount.outlet_id == outlet.id, StockCount.status == PENDING)
        .order_by(StockCount.id)
    ).all()
    return render_template(
        "outlets/stock.html",
        outlet=outlet,
        lines=lines,
        movements=movements,
        pending=pending,
        labels=MOVEMENT_LABELS,
        reasons=WRITE_OFF_REASON_LABELS,
        can_receive=can(current_user, "outlet.stock.receive", outlet),
        can_adjust=can(current_user, "outlet.stock.adjust", outlet),
        value_fen=sum(line.value_fen for line in lines),
    )


def _resolve_outlet(db, text: str, source: Outlet) -> Outlet:
    """The target outlet of a transfer, typed by part of its name."""
    text = " ".join((text or "").split())
    if not text:
        raise ValidationFailed(_("Type part of the name of the outlet that receives the goods."), field="to_outlet")
    base = select(Outlet).where(Outlet.tenant_id == source.tenant_id, Outlet.active.is_(True), Outlet.id != source.id)
    exact = db.scalars(base.where(Outlet.name == text)).first()
    if exact is not None:
        return exact
    found = list(db.scalars(base.where(Outlet.name.contains(text, autoescape=True)).order_by(Outlet.name).limit(6)))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationFailed(
            _("No other open outlet is called “%(text)s”. Try fewer characters.", text=text), field="to_outlet"
        )
    raise ValidationFailed(
        _(
            "Several outlets match “%(text)s”: %(names)s. Type more of the name.",
            text=text,
            names="、".join(o.name for o in found),
        ),
        field="to_outlet",
    )


@login_required
def movement(outlet_id: int, kind: str):
    """GET: the form. POST without confirm: the same form checked, with a summary to confirm. POST with
    confirm=yes: posted (once, by the form's key) and back to the stock page."""
    if kind not in KINDS:
        return redirect(url_for("outlets.stock", outlet_id=outlet_id))
    action = "outlet.stock.adjust" if kind == WRITE_OFF else "outlet.stock.receive"
    db = get_session()
    outlet = outlet_for(outlet_id, action)
    goods = _goods(outlet)
    form = MovementForm() if request.method == "POST" else MovementForm(formdata=None)
    key = request.form.get("key") or secrets.token_urlsafe(16)
    summary = None
    target = None
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            pairs, problems = _quantities([line.item for line in goods])
            try:
                if problems:
                    raise ValidationFailed(
                        problems[0], field="lines", details=[{"field": "lines", "message": p} for p in problems]
                    )
                if not pairs:
                    raise ValidationFailed(_("Write how many pieces of at least one item."), field="lines")
                if kind == WRITE_OFF:
                    shelf = {line.item.id: line.qty for line in goods}
                    short = [(i, q) for i, q in pairs if q > shelf.get(i, 0)]
                    if short:
                        names = {line.item.id: line.item.name for line in goods}
                        raise ValidationFailed(
                            _(
                                "%(name)s: only %(n)d on the shelf.",
                                name=names[short[0][0]],
                                n=shelf.get(short[0][0], 0),
                            ),
                            field="lines",
                        )
                value_fen = _fen(form.value_yuan.data) if kind in (DONATION, PURCHASE) else None
                if kind == TRANSFER:
                    target = _resolve_outlet(db, form.to_outlet.data or "", outlet)
                if kind == DONATION and not (form.donor.data or "").strip():
                    raise ValidationFailed(_("Name the donor (a business or a person)."), field="donor")
                if kind == WRITE_OFF and form.reason.data == "other" and not (form.note.data or "").strip():
                    raise ValidationFailed(_("Say why the goods are written off."), field="note")
                if request.form.get("confirm") == "yes":
                    mkey, note = f"page:{key}"[:100], form.note.data or ""
                    if kind in (DONATION, PURCHASE):
                        stock_services.receive(
                            db,
                            outlet,
                            current_user.user_id,
                            kind,
                            pairs,
                            donor=form.donor.data or "",
                            supplier=form.supplier.data or "",
                            estimated_value_fen=value_fen,
                            key=mkey,
                            note=note,
                        )
                    elif kind == TRANSFER:
                        assert target is not None
                        stock_services.transfer(db, outlet, target, current_user.user_id, pairs, key=mkey, note=note)
                    else:
                        stock_services.write_off(
                            db, outlet, current_user.user_id, pairs, reason=form.reason.data or "", key=mkey, note=note
                        )
                    flash(
                        _("%(what)s recorded: %(n)d pieces.", what=MOVEMENT_LABELS[kind], n=sum(q for _i, q in pairs)),
                        "success",
                    )
                    return redirect(url_for("outlets.stock", outlet_id=outlet.id))
                names = {line.item.id: line.item for line in goods}
                summary = [(names[i], q) for i, q in pairs]
                status = 200
            except AppError as e:
                show_errors(form, e)
    return render_template(
        "outlets/movement.html",
        outlet=outlet,
        kind=kind,
        title=MOVEMENT_LABELS[kind],
        form=form,
        goods=goods,
        key=key,
        summary=summary,
        target=target,
        value_yuan=form.value_yuan.data,
        reasons=WRITE_OFF_REASON_LABELS,
        outlet_names=[
            o.name
            for o in db.scalars(
                select(Outlet)
                .where(Outlet.tenant_id == outlet.tenant_id, Outlet.active.is_(True), Outlet.id != outlet.id)
                .order_by(Outlet.name)
            )
        ]
        if kind == TRANSFER
        else [],
    ), status


# --- stock counts (盘点) -------------------------------------------------------------------------------


@login_required
def stock_count(outlet_id: int):
    """GET: every goods item of the outlet with a box for the counted number (the books are not shown,
    so the count is blind). POST: the count is recorded and its differences shown."""
    db = get_session()
    outlet = outlet_for(outlet_id, "outlet.stock.count")
    goods = _goods(outlet)
    form = CountForm() if request.method == "POST" else CountForm(formdata=None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            pairs, problems = _quantities([line.item for line in goods], prefix="counted", allow_zero=True)
            try:
                if problems:
                    raise ValidationFailed(
                        problems[0], field="lines", details=[{"field": "lines", "message": p} for p in problems]
                    )
                missing = [line.item.name for line in goods if line.item.id not in {i for i, _q in pairs}]
                if not pairs:
                    raise ValidationFailed(
                        _("Write the counted number of at least one item (0 when none is there)."), field="lines"
                    )
                count = stock_services.record_count(db, outlet, current_user.user_id, pairs, note=form.note.data or "")
                if missing:
                    flash(
                        _(
                            "Not counted this time: %(names)s.",
                            names="、".join(missing[:10]) + ("…" if len(missing) > 10 else ""),
                        ),
                        "info",
                    )
                return redirect(url_for("outlets.count_page", outlet_id=outlet.id, count_id=count.id))
            except AppError as e:
                show_errors(form, e)
    pending = db.scalars(
        select(StockCount)
        .where(StockCount.outlet_id == outlet.id, StockCount.status == PENDING)
        .order_by(StockCount.id)
    ).all()
    recent = db.scalars(
        select(StockCount).where(StockCount.outlet_id == outlet.id).order_by(StockCount.counted_at.desc()).limit(10)
    ).all()
    return render_template(
        "outlets/count_form.html",
        outlet=outlet,
        goods=goods,
        form=form,
        pending=pending,
        recent=recent,
        statuses=COUNT_STATUS_LABELS,
    ), status


def _count(outlet: Outlet, count_id: int) -> StockCount:
    count = stock_services.get_count(get_session(), outlet.tenant_id, count_id)
    if count.outlet_id != outlet.id:
        raise NotFound(_("No such stock count."))
    return count


@login_required
def count_page(outlet_id: int, count_id: int):
    """A count's differences against the books. A supervisor gives each difference a reason and records
    them as adjustments (confirm first), or cancels a count made wrongly."""
    db = get_session()
    outlet = outlet_for(outlet_id, "outlet.stock.view")
    count = _count(outlet, count_id)
    form = Form()
    can_apply = can(current_user, "outlet.stock.adjust", outlet) and count.status == PENDING
    confirming = False
    status = 200
    if request.method == "POST":
        outlet = outlet_for(outlet_id, "outlet.stock.adjust")
        status = 422
        if form.validate_on_submit():
            reasons = {
                line.item_id: (request.form.get(f"reason-{line.item_id}") or "").strip()[:200]
                for line in count.lines
                if line.difference
            }
            try:
                if request.form.get("cancel") == "yes":
                    if request.form.get("confirm") != "yes":  # asks first: a cancelled count stays cancelled
                        return render_template(
                            "confirm.html",
                            form=form,
                            title=_("Cancel this stock count?"),
                            question=_(
                                "Cancel the count of %(when)s at %(outlet)s?",
                                when=beijing(count.counted_at),
                                outlet=outlet.name,
                            ),
                            consequence=_(
                                "Nothing moves in the books, and the count cannot be used again. "
                                "Count again if the shelf still needs checking."
                            ),
                            action=url_for("outlets.count_page", outlet_id=outlet.id, count_id=count.id),
                            button=_("Cancel this count"),
                            carried={"cancel": "yes"},
                            back_label=_("Keep the count"),
                            back=url_for("outlets.count_page", outlet_id=outlet.id, count_id=count.id),
                        )
                    stock_services.cancel_count(db, count, current_user.user_id)
                    flash(_("The stock count was cancelled; nothing moved."), "success")
                    return redirect(url_for("outlets.stock_count", outlet_id=outlet.id))
                missing = [line.item.name for line in count.lines if line.difference and not reasons.get(line.item_id)]
                if missing:
                    raise ValidationFailed(
                        _("Give a reason for each difference: %(names)s.", names="、".join(missing)), field="reasons"
                    )
                if request.form.get("confirm") == "yes":
                    moved = stock_services.apply_count(db, count, current_user.user_id, reasons=reasons)
                    flash(
                        _("The differences are recorded as adjustments; the books now match the shelf.")
                        if moved
                        else _("Nothing differed; the count is closed."),
                        "success",
                    )
                    return redirect(url_for("outlets.count_page", outlet_id=outlet.id, count_id=count.id))
                for line in count.lines:
                    if line.difference:
                        line.reason = reasons[line.item_id]  # shown back, saved only by apply_count
                confirming, status = True, 200
            except AppError as e:
                show_errors(form, e)
    differences = [line for line in count.lines if line.difference]
    return render_template(
        "outlets/count_page.html",
        outlet=outlet,
        count=count,
        form=form,
        differences=differences,
        can_apply=can_apply,
        confirming=confirming,
        statuses=COUNT_STATUS_LABELS,
        reasons={k: (request.form.get(f"reason-{k}") or "") for k in (line.item_id for line in differences)}
        if request.method == "POST"
        else {line.item_id: line.reason for line in differences},
    ), status


# --- the stock report (账物相符) --------------------------------------------------------------------------


def _date_arg(name: str, default: date) -> date:
    raw = request.args.get(name) or ""
    try:
        got = date.fromisoformat(raw) if raw else default
    except ValueError:
        return default
    return got if got.year >= 1900 else default  # before any record, and out of reach of the time-zone arithmetic


@login_required
def stock_report(outlet_id: int):
    db = get_session()
    outlet = outlet_for(outlet_id, "outlet.stock.view")
    today = beijing_today()
    at = min(_date_arg("at", today), today)
    start = _date_arg("from", month_bounds(at)[0])
    if start > at:
        start = month_bounds(at)[0]
    report = stock_services.stock_report(db, outlet, at=day_end(at), since=day_start(start))
    return render_template("outlets/stock_report.html", outlet=outlet, report=report, at=at, start=start, today=today)


@login_required
def reconciliation():
    """Every outlet in reach at a date: 账物相符 or not, pieces and value by the books, the last count."""
    require(current_user, "outlet.stock.view")
    db = get_session()
    today = beijing_today()
    at = min(_date_arg("at", today), today)
    outlets = list(db.scalars(outlet_services.outlets_query(current_user, "outlet.stock.view")))
    rows = []
    for o in outlets:
        r = stock_services.stock_report(db, o, at=day_end(at))
        last = max((line.counted_at for line in r.lines if line.counted_at), default=None)
        rows.append((o, r, last))
    return render_template("outlets/reconciliation.html", rows=rows, at=at, today=today)
