"""Catalogue pages: the district's items (search, category), adding and changing an item with its photo,
price changes (each a new version, with the history), what one outlet offers, and the catalogue as
.xlsx out and in (a dry run first, then all rows or none)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import can, require
from app.audit.services import record
from app.db import get_session, utcnow
from app.errors import AppError, ValidationFailed
from app.forms import Form, show_errors
from app.spreadsheets import XLSX_MIMETYPE, SpreadsheetError

from . import catalogue as catalogue_services
from . import catalogue_io
from .admin_views import outlet_for
from .forms import ImportForm, ItemForm, PriceForm
from .labels import ITEM_KIND_LABELS, LIMIT_PERIOD_LABELS
from .models import Item, ItemPrice, OutletItem
from .photos import store_photo

PAGE = 50
STASH = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _fen(text: str | None, field: str = "value_yuan") -> int | None:
    text = (text or "").strip().replace(",", "").lstrip("¥￥")
    if not text:
        return None
    m = re.fullmatch(r"(\d{1,9})(?:\.(\d{1,2}))?", text)
    if not m:
        raise ValidationFailed(_("Write the amount in yuan, such as 25 or 25.50."), field=field)
    return int(m.group(1)) * 100 + int((m.group(2) or "").ljust(2, "0"))


def current_prices(db, item_ids) -> dict[int, int]:
    return {i: p.points for i, p in catalogue_services.prices_at(db, item_ids, utcnow()).items()}


@login_required
def catalogue():
    require(current_user, "outlet.catalogue.view")
    db = get_session()
    q = (request.args.get("q") or "").strip()[:50]
    category = (request.args.get("category") or "").strip()[:50]
    stmt = select(Item).where(Item.tenant_id == current_user.tenant_id)
    if q:
        stmt = stmt.where(Item.name.contains(q, autoescape=True))
    if category:
        stmt = stmt.where(Item.category == category)
    items = list(db.scalars(stmt.order_by(Item.active.desc(), Item.category, Item.name).limit(1000)))
    categories = [
        c
        for c in db.scalars(
            select(Item.category).where(Item.tenant_id == current_user.tenant_id).distinct().order_by(Item.category)
        )
        if c
    ]
    return render_template(
        "outlets/catalogue.html",
        items=items,
        prices=current_prices(db, [i.id for i in items]),
        q=q,
        category=category,
        categories=categories,
        kinds=ITEM_KIND_LABELS,
        periods=LIMIT_PERIOD_LABELS,
        can_edit=can(current_user, "outlet.catalogue.edit"),
    )


def _item_values(form: ItemForm) -> dict:
    period = form.limit_period.data or None
    qty = form.limit_qty.data
    if qty is not None and period is None:
        raise ValidationFailed(
            _("Choose the limit’s period (per day, week, month or year), or clear the number."), field="limit_period"
        )
    if period is not None and qty is None:
        raise ValidationFailed(_("Give the limit’s number of pieces, or choose “No limit”."), field="limit_qty")
    return dict(
        name=form.name.data or "",
        category=form.category.data or "",
        kind=form.kind.data or "goods",
        unit_name=form.unit_name.data or "",
        description=form.description.data or "",
        limit_qty=qty,
        limit_period=period,
        value_fen=_fen(form.value_yuan.data),
    )


def _photo_from(form: ItemForm) -> str | None:
    upload = request.files.get(form.photo.name)
    if upload is None or not upload.filename:
        return None
    return store_photo(upload.read(MAX_PHOTO_READ))


MAX_PHOTO_READ = 8 * 1024 * 1024 + 1


def set_photo(db, item: Item, name: str | None) -> None:
    if name is None or item.photo == name:
        return
    item.photo = name
    db.flush()
    record(
        db,
        "outlet.item_update",
        tenant_id=item.tenant_id,
        actor_user_id=current_user.user_id,
        target_type="outlet_item",
        target_id=item.id,
        detail={"photo": name},
    )


@login_required
def new_item():
    require(current_user, "outlet.catalogue.edit")
    db = get_session()
    form = ItemForm()
    if form.validate_on_submit():
        try:
            values = _item_values(form)
            photo = _photo_from(form)
            item = catalogue_services.create_item(
                db, current_user.tenant_id, current_user.user_id, points=int(form.points.data or 0), **values
            )
            set_photo(db, item, photo)
            flash(
                _("%(name)s is in the catalogue. Offer it at outlets on each outlet’s page.", name=item.name), "success"
            )
            return redirect(url_for("outlets.edit_item", item_id=item.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return render_template("outlets/item_form.html", form=form, item=None), status


@login_required
def edit_item(item_id: int):
    require(current_user, "outlet.catalogue.view")
    db = get_session()
    item = catalogue_services.get_item(db, current_user.tenant_id, item_id)
    price_now = current_prices(db, [item.id]).get(item.id)
    if request.method == "POST":
        require(current_user, "outlet.catalogue.edit")
        form = ItemForm()
        form.points.data = form.points.data or price_now  # the price changes on its own form
    else:
        form = ItemForm(formdata=None, obj=item, points=price_now)
        form.value_yuan.data = f"{item.value_fen / 100:.2f}" if item.value_fen is not None else ""
        form.limit_period.data = item.limit_period or ""
    if request.method == "POST" and form.validate_on_submit():
        try:
            values = _item_values(form)
            photo = _photo_from(form)
            catalogue_services.update_item(db, item, current_user.user_id, active=bool(form.active.data), **values)
            set_photo(db, item, photo)
            flash(_("Saved."), "success")
            return redirect(url_for("outlets.edit_item", item_id=item.id))
        except AppError as e:
            show_errors(form, e)
    prices = list(db.scalars(select(ItemPrice).where(ItemPrice.item_id == item.id).order_by(ItemPrice.version.desc())))
    offered = db.scalar(
        select(OutletItem.id).where(OutletItem.item_id == item.id, OutletItem.available.is_(True)).limit(1)
    )
    status = 422 if request.method == "POST" else 200
    return render_template(
        "outlets/item_form.html",
        form=form,
        item=item,
        price_now=price_now,
        prices=prices,
        price_form=PriceForm(formdata=None),
        offered=offered is not None,
        can_edit=can(current_user, "outlet.catalogue.edit"),
    ), status


@login_required
def change_price(item_id: int):
    require(current_user, "outlet.catalogue.edit")
    db = get_session()
    item = catalogue_services.get_item(db, current_user.tenant_id, item_id)
    form = PriceForm()
    if form.validate_on_submit():
        try:
            price = catalogue_services.change_price(
                db, item, current_user.user_id, int(form.points.data or 0), reason=form.reason.data or ""
            )
            flash(
                _(
                    "The price of %(name)s is now %(points)d points (version %(v)d). "
                    "Redemptions already made keep their price.",
                    name=item.name,
                    points=price.points,
                    v=price.version,
                ),
                "success",
            )
            return redirect(url_for("outlets.edit_item", item_id=item.id))
        except AppError as e:
            show_errors(form, e)
    prices = list(db.scalars(select(ItemPrice).where(ItemPrice.item_id == item.id).order_by(ItemPrice.version.desc())))
    item_form = ItemForm(formdata=None, obj=item)
    return render_template(
        "outlets/item_form.html",
        form=item_form,
        item=item,
        price_now=current_prices(db, [item.id]).get(item.id),
        prices=prices,
        price_form=form,
        offered=False,
        can_edit=True,
    ), 422


# --- what one outlet offers -------------------------------------------------------------------------


@login_required
def availability(outlet_id: int):
    require(current_user, "outlet.catalogue.edit")
    db = get_session()
    outlet = outlet_for(outlet_id, "outlet.view")
    items = list(
        db.scalars(select(Item).where(Item.tenant_id == current_user.tenant_id).order_by(Item.category, Item.name))
    )
    rows = {r.item_id: r for r in db.scalars(select(OutletItem).where(OutletItem.outlet_id == outlet.id))}
    problems: list[str] = []
    if request.method == "POST":
        if not Form().validate_on_submit():
            problems.append(_("The form expired. Reload the page and try again."))
        chosen = {int(v) for v in request.form.getlist("offer") if v.isdecimal() and len(v) < 19}
        lows: dict[int, int] = {}
        for item in items:
            raw = (request.form.get(f"low-{item.id}") or "").strip()
            if raw and (not raw.isdecimal() or len(raw) > 6 or int(raw) > 100_000):
                problems.append(
                    _("%(name)s: the low-stock level must be a whole number from 0 to 100,000.", name=item.name)
                )
            lows[item.id] = (
                int(raw)
                if raw.isdecimal() and len(raw) <= 6
                else (rows[item.id].low_stock_at if item.id in rows else 5)
            )
        if not problems:
            changed = 0
            for item in items:
                want = item.id in chosen
                row = rows.get(item.id)
                if row is None and not want:
                    continue
                if row is not None and row.available == want and row.low_stock_at == lows[item.id]:
                    continue
                catalogue_services.set_availability(
                    db, outlet, item, available=want, low_stock_at=min(lows[item.id], 100_000)
                )
                changed += 1
            flash(_("Saved: %(n)d items changed.", n=changed), "success")
            return redirect(url_for("outlets.availability", outlet_id=outlet.id))
    return render_template(
        "outlets/availability.html",
        outlet=outlet,
        items=items,
        rows=rows,
        prices=current_prices(db, [i.id for i in items]),
        problems=problems,
        form=Form(formdata=None),
    ), (422 if problems else 200)


# --- .xlsx out and in ------------------------------------------------------------------------------


@login_required
def export_catalogue():
    require(current_user, "outlet.catalogue.view")
    data = catalogue_io.workbook(catalogue_io.export_rows(get_session(), current_user.tenant_id))
    return Response(
        data,
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": 'attachment; filename="catalogue.xlsx"', "Cache-Control": "no-store"},
    )


@login_required
def import_template():
    require(current_user, "outlet.catalogue.edit")
    data = catalogue_io.workbook([["大米 5kg", "粮油", "商品", "袋", 50, 1, "每月", "35.00", "东北大米", "是", "全部"]])
    return Response(
        data,
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": 'attachment; filename="catalogue-template.xlsx"', "Cache-Control": "no-store"},
    )


def _stash_dir() -> Path:
    path = Path(
        current_app.config.get("OUTLET_IMPORT_DIR") or os.path.join(current_app.instance_path, "catalogue-imports")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stash(content: bytes) -> str:
    token = secrets.token_urlsafe(24)
    (_stash_dir() / f"{current_user.tenant_id}-{current_user.user_id}-{token}").write_bytes(content)
    return token


def _unstash(token: str) -> bytes | None:
    if not STASH.match(token or ""):
        return None
    path = _stash_dir() / f"{current_user.tenant_id}-{current_user.user_id}-{token}"
    return path.read_bytes() if path.is_file() else None


def _drop_stash(token: str) -> None:
    if STASH.match(token or ""):
        (_stash_dir() / f"{current_user.tenant_id}-{current_user.user_id}-{token}").unlink(missing_ok=True)


def apply_import(db, check: catalogue_io.ImportCheck) -> None:
    """Write every planned row (the caller's transaction: any error rolls all of it back)."""
    from .models import Outlet

    outlets = {o.id: o for o in db.scalars(select(Outlet).where(Outlet.tenant_id == current_user.tenant_id))}
    for plan in check.plans:
        v = dict(plan.values)
        points, active = v.pop("points"), v.pop("active")
        if plan.item_id is None:
            item = catalogue_services.create_item(
                db, current_user.tenant_id, current_user.user_id, name=plan.name, points=points, **v
            )
            if not active:
                catalogue_services.update_item(db, item, current_user.user_id, name=plan.name, active=False, **v)
        else:
            item = catalogue_services.get_item(db, current_user.tenant_id, plan.item_id)
            if plan.changes:
                catalogue_services.update_item(db, item, current_user.user_id, name=plan.name, active=active, **v)
            if plan.price_changes:
                catalogue_services.change_price(db, item, current_user.user_id, points, reason=_("Catalogue import"))
        if plan.outlet_ids is not None:
            want = set(plan.outlet_ids)
            current = {r.outlet_id: r for r in db.scalars(select(OutletItem).where(OutletItem.item_id == item.id))}
            for oid, outlet in outlets.items():
                row = current.get(oid)
                if oid in want and (row is None or not row.available):
                    catalogue_services.set_availability(
                        db, outlet, item, available=True, low_stock_at=row.low_stock_at if row else 5
                    )
                elif oid not in want and row is not None and row.available:
                    catalogue_services.set_availability(
                        db, outlet, item, available=False, low_stock_at=row.low_stock_at
                    )


@login_required
def import_catalogue():
    """Step 1 (POST with a file): the dry run — nothing written, every row's problem or plan shown.
    Step 2 (POST with the stash token and confirm=yes): the same file checked again and applied, all
    rows or none."""
    require(current_user, "outlet.catalogue.edit")
    db = get_session()
    form = ImportForm()
    check = None
    token = ""
    digest = ""
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        token = request.form.get("token") or ""
        if token:
            content = _unstash(token)
            if content is None:
                form.form_errors.append(_("That check has expired: choose the file again."))
                status = 422
            else:
                check = catalogue_io.check_import(db, current_user.tenant_id, "catalogue.xlsx", content)
                if request.form.get("digest") != hashlib.sha256(content).hexdigest() or not check.ok:
                    form.form_errors.append(_("The file changed or has problems now: check it again."))
                    status = 422
                else:
                    try:
                        with db.begin_nested():  # all rows or none
                            apply_import(db, check)
                    except AppError as e:
                        form.form_errors.append(_("Nothing was imported: %(problem)s", problem=e.message))
                        return render_template("outlets/import.html", form=form, check=None, token="", digest=""), 422
                    _drop_stash(token)
                    record(
                        db,
                        "outlet.item_update",
                        tenant_id=current_user.tenant_id,
                        actor_user_id=current_user.user_id,
                        target_type="catalogue",
                        target_id=current_user.tenant_id,
                        detail={"import": True, "added": check.added, "changed": check.changed},
                    )
                    flash(
                        _(
                            "Imported: %(added)d items added, %(changed)d changed.",
                            added=check.added,
                            changed=check.changed,
                        ),
                        "success",
                    )
                    return redirect(url_for("outlets.catalogue"))
        else:
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                form.file.errors = [_("Choose the catalogue file (.xlsx) first.")]
                status = 422
            else:
                content = upload.read()
                try:
                    check = catalogue_io.check_import(db, current_user.tenant_id, upload.filename, content)
                except SpreadsheetError as e:
                    form.file.errors = [e.message]
                    status = 422
                else:
                    if check.ok:
                        token, digest = _stash(content), hashlib.sha256(content).hexdigest()
                    else:
                        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("outlets/import.html", form=form, check=check, token=token, digest=digest), status
