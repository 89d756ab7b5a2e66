"""The counter (爱心超市 staff on a phone or the counter PC): find the member by their live QR code or
short code, build a cart, confirm once, print the receipt; the outlet's latest redemptions; a
supervisor's refund of a whole redemption or some lines; and, for the member's own QR page, what they
just redeemed (polled JSON) and their redemptions in the points history in words.

The views only translate HTTP: finding the member and redeeming are app/outlets/redemption.py, refunds
app/outlets/refunds.py."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.access import can
from app.db import get_session, utcnow
from app.errors import AppError, NotFound, ValidationFailed
from app.people.models import Member
from app.points.spending import KIND_REDEMPTION, KIND_REFUND, available_points
from app.times import beijing

from . import catalogue, outlets, refunds
from . import redemption as redeeming
from .labels import LIMIT_PERIOD_LABELS
from .limits import lookup_limit
from .models import Item, Outlet, Redemption, Refund, RefundLine

RECENT = timedelta(minutes=15)  # what the member's QR page shows as "just redeemed"
MAX_LINES = 50


def _db() -> Session:
    return get_session()


def _outlet(outlet_id: int, action: str = "outlet.redeem") -> Outlet:
    return outlets.get_outlet(_db(), current_user, outlet_id, action)


def _redemption(outlet: Outlet, redemption_id: int) -> Redemption:
    r = (
        _db()
        .scalars(
            select(Redemption)
            .options(selectinload(Redemption.lines), selectinload(Redemption.refunds).selectinload(Refund.lines))
            .where(Redemption.id == redemption_id, Redemption.outlet_id == outlet.id)
        )
        .first()
    )
    if r is None:
        raise NotFound(_("Not found. It may have been moved, or you may not have access to it."))
    return r


def limit_text(item: Item) -> str:
    """The limit in words: "2 per month"."""
    if not item.limit_qty or not item.limit_period:
        return ""
    return _("%(n)s %(period)s", n=item.limit_qty, period=LIMIT_PERIOD_LABELS[item.limit_period])


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed(_("Send the request as JSON from the counter page. Reload the page and try again."))
    return body


# --- the counter page ---------------------------------------------------------------------------------


@login_required
def counter(outlet_id: int):
    outlet = _outlet(outlet_id)
    offers = [o for o in catalogue.offers(_db(), outlet) if o.price is not None]
    return render_template(
        "outlets/counter.html",
        outlet=outlet,
        offers=offers,
        limit_texts={o.item.id: limit_text(o.item) for o in offers},
    )


@login_required
@lookup_limit
def counter_member(outlet_id: int):
    """Who the code names (masked), their points, and what each limited item still allows them."""
    outlet = _outlet(outlet_id)
    code = _json_body().get("code")
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed(_("Type the 6-character code the member reads out."), field="code")
    db = _db()
    now = utcnow()
    token, short = _member_ref(code)
    who = redeeming.member_at_counter(db, outlet.tenant_id, member_token=token, member_code=short, now=now)
    member = db.get(Member, who.member_id)
    return jsonify(
        member={
            "name": who.name_masked,
            "mobile": member.mobile_masked if member is not None else "",
            "available": who.available_points,
        },
        limits=_limits_left(db, outlet, who.member_id, now),
    )


def _member_ref(code: str) -> tuple[str | None, str | None]:
    """(QR token, short code): a scanned token ("AX1.M…") or the short code the member read out."""
    code = code.strip()
    return (code, None) if code.upper().startswith("AX1.") else (None, code)


def _limits_left(db: Session, outlet: Outlet, member_id: int, now) -> dict[str, dict]:
    """For each limited item offered here: how many the member may still take this period, and a
    sentence saying so with the day it resets (the counter caps the cart with it; redeem checks again)."""
    limited = [o.item for o in catalogue.offers(db, outlet, now) if o.item.limit_qty and o.item.limit_period]
    out: dict[str, dict] = {}
    periods: dict[str, list[Item]] = {}
    for item in limited:
        periods.setdefault(item.limit_period or "", []).append(item)
    for period, items in periods.items():
        start, resets = catalogue.limit_window(period, now)
        had = catalogue.redeemed_since(db, outlet.tenant_id, member_id, [i.id for i in items], start)
        for item in items:
            left = max(0, (item.limit_qty or 0) - had.get(item.id, 0))
            out[str(item.id)] = {
                "left": left,
                "short": _("%(n)s more allowed this period", n=left) if left else _("limit reached"),
                "text": _(
                    "%(name)s: %(limit)s; this member has %(n)s left. The limit resets on %(date)s.",
                    name=item.name,
                    limit=limit_text(item),
                    n=left,
                    date=beijing(resets, "%Y-%m-%d"),
                ),
            }
    return out


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _lines(raw) -> list[tuple[int, int]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed(_("The cart is empty. Add at least one item."), field="lines")
    if len(raw) > MAX_LINES:
        raise ValidationFailed(_("A cart holds at most %(n)s different items.", n=MAX_LINES), field="lines")
    out: list[tuple[int, int]] = []
    for line in raw:
        item_id = line.get("item_id") if isinstance(line, dict) else None
        qty = line.get("qty") if isinstance(line, dict) else None
        if not (
            isinstance(item_id, int)
            and isinstance(qty, int)
            and _whole(item_id)
            and _whole(qty)
            and 1 <= item_id < 2**63
            and 1 <= qty <= 99
        ):
            raise ValidationFailed(
                _("Each line needs an item and a quantity from 1 to 99. Reload the page and build the cart again."),
                field="lines",
            )
        out.append((item_id, qty))
    return out


@login_required
@lookup_limit
def counter_redeem(outlet_id: int):
    """Redeem the cart: one journal; the same key again answers with the same receipt."""
    outlet = _outlet(outlet_id)
    body = _json_body()
    code, key = body.get("code"), body.get("key")
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed(_("Scan the member’s code or type it first."), field="code")
    if not isinstance(key, str) or not 8 <= len(key) <= 100:
        raise ValidationFailed(_("Reload the counter page and build the cart again."), field="key")
    token, short = _member_ref(code)
    lines = _lines(body.get("lines"))
    redemption = redeeming.redeem(
        _db(), outlet, current_user.user_id, lines, key, member_token=token, member_code=short
    )
    return jsonify(
        redemption_id=redemption.id,
        receipt_url=url_for("outlets.counter_receipt", outlet_id=outlet.id, redemption_id=redemption.id, new=1),
    )


# --- receipts and the outlet's latest redemptions -----------------------------------------------------


@login_required
def counter_receipt(outlet_id: int, redemption_id: int):
    outlet = _outlet(outlet_id, "outlet.redemption.view")
    r = _redemption(outlet, redemption_id)
    db = _db()
    return render_template(
        "outlets/counter_receipt.html",
        outlet=outlet,
        r=r,
        member_name=redeeming.mask_name(r.member.name),
        member_mobile=r.member.mobile_masked,
        available_now=available_points(db, outlet.tenant_id, r.member_id),
        refunded_points=sum(f.points for f in r.refunds),
        can_refund=can(current_user, "outlet.refund", outlet) and any(ln.qty > ln.refunded_qty for ln in r.lines),
        fresh=request.args.get("new") == "1",
    )


@login_required
def counter_history(outlet_id: int):
    """The outlet's redemptions of the last days, newest first (to reprint a receipt or refund)."""
    outlet = _outlet(outlet_id, "outlet.redemption.view")
    days = 7
    rows = (
        _db()
        .scalars(
            select(Redemption)
            .options(selectinload(Redemption.lines), selectinload(Redemption.member), selectinload(Redemption.refunds))
            .where(Redemption.outlet_id == outlet.id, Redemption.created_at >= utcnow() - timedelta(days=days))
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
            .limit(200)
        )
        .all()
    )
    return render_template(
        "outlets/counter_history.html", outlet=outlet, rows=rows, days=days, masked_name=redeeming.mask_name
    )


# --- a supervisor's refund ----------------------------------------------------------------------------


def _refund_lines(r: Redemption) -> list[tuple[int, int]]:
    """The quantities the form asks to refund (qty-<line id>); an empty or 0 field refunds none."""
    out = []
    for line in r.lines:
        raw = (request.form.get(f"qty-{line.id}") or "").strip()
        if not raw:
            continue
        if not raw.isascii() or not raw.isdecimal() or len(raw) > 4:
            raise ValidationFailed(
                _("Type how many pieces of %(name)s to refund, as a whole number.", name=line.item_name),
                field=f"qty-{line.id}",
            )
        qty = int(raw)
        left = line.qty - line.refunded_qty
        if qty > left:
            raise ValidationFailed(
                _("At most %(n)s of %(name)s can still be refunded.", n=left, name=line.item_name),
                field=f"qty-{line.id}",
            )
        if qty:
            out.append((line.id, qty))
    if not out:
        raise ValidationFailed(_("Choose at least one piece to refund."))
    return out


@login_required
def counter_refund(outlet_id: int, redemption_id: int):
    """GET: the form (which lines, how many, why). POST without confirm: the check page. POST with
    confirm=yes: the refund (one journal), then the receipt."""
    outlet = _outlet(outlet_id, "outlet.refund")
    r = _redemption(outlet, redemption_id)
    back = url_for("outlets.counter_receipt", outlet_id=outlet.id, redemption_id=r.id)
    if request.method == "GET":
        return render_template("outlets/counter_refund.html", outlet=outlet, r=r, back=back, error=None, values={})
    values = dict(request.form)
    key = (request.form.get("key") or "")[:100]
    if request.form.get("confirm") == "yes" and key and any(f.key == key for f in r.refunds):
        return redirect(back)  # the same confirm sent again (a double tap, a reload): refunded once already
    try:
        lines = _refund_lines(r)
        reason = (request.form.get("reason") or "").strip()
        if not reason:
            raise ValidationFailed(
                _("Say why the goods are refunded (for example: damaged, wrong item)."), field="reason"
            )
        if len(reason) > 200:
            raise ValidationFailed(_("Keep the reason under 200 characters."), field="reason")
        if request.form.get("confirm") != "yes":
            by_id = {ln.id: ln for ln in r.lines}
            chosen = [(by_id[i], q) for i, q in lines]
            return render_template(
                "outlets/counter_refund_confirm.html",
                outlet=outlet,
                r=r,
                chosen=chosen,
                points=sum(ln.unit_points * q for ln, q in chosen),
                reason=reason,
                key=request.form.get("key") or f"refund-{secrets.token_hex(12)}",
                back=url_for("outlets.counter_refund", outlet_id=outlet.id, redemption_id=r.id),
            )
        refunds.refund(
            _db(), r, current_user.user_id, current_user.member_id, lines=lines, reason=reason, key=key or None
        )
    except AppError as e:
        return (
            render_template("outlets/counter_refund.html", outlet=outlet, r=r, back=back, error=e, values=values),
            e.status if e.status != 404 else 422,
        )
    flash(_("Refunded. The points are back in the member’s wallet and the goods on the shelf."), "success")
    return redirect(back)


# --- the member's side ----------------------------------------------------------------------------------


@login_required
def my_latest_redemptions():
    """The signed-in member's redemptions of the last minutes, for their QR page (polled)."""
    if current_user.member_id is None:
        return jsonify(redemptions=[])
    db = _db()
    rows = redeeming.member_redemptions(
        db, current_user.tenant_id, current_user.member_id, since=utcnow() - RECENT, limit=5
    )
    available = available_points(db, current_user.tenant_id, current_user.member_id)
    resp = jsonify(
        redemptions=[
            {
                "id": r.id,
                "outlet": r.outlet.name,
                "time": beijing(r.created_at, "%H:%M"),
                "lines": [
                    {
                        "text": _(
                            "%(name)s ×%(qty)s · %(points)s points", name=ln.item_name, qty=ln.qty, points=ln.points
                        )
                    }
                    for ln in r.lines
                ],
                "total_text": _("%(n)s points spent", n=r.total_points),
            }
            for r in rows
        ],
        available=available,
        available_text=str(available),
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def qr_panel() -> dict | None:
    """The "just redeemed" panel on the member's QR page (app.area.register_page_slot)."""
    if not current_user.is_authenticated or current_user.member_id is None:
        return None
    return {"src": url_for("outlets.my_latest_redemptions")}


def describe_redemptions(db: Session, tenant_id: int, metas: Mapping[int, dict]) -> dict[int, str]:
    """Points history lines of redemptions in words: "凤凰社区爱心超市 · 大米 5kg ×1"."""
    rows = db.scalars(
        select(Redemption)
        .options(selectinload(Redemption.lines), selectinload(Redemption.outlet))
        .where(Redemption.tenant_id == tenant_id, Redemption.journal_id.in_(list(metas)))
    ).all()
    return {r.journal_id: _said(r.outlet.name, [(ln.item_name, ln.qty) for ln in r.lines]) for r in rows}


def describe_refunds(db: Session, tenant_id: int, metas: Mapping[int, dict]) -> dict[int, str]:
    """Refund lines in words: "退货 · 凤凰社区爱心超市 · 大米 5kg ×1"."""
    rows = db.scalars(
        select(Refund)
        .options(
            selectinload(Refund.lines).selectinload(RefundLine.redemption_line),
            selectinload(Refund.redemption).selectinload(Redemption.outlet),
        )
        .where(Refund.tenant_id == tenant_id, Refund.journal_id.in_(list(metas)))
    ).all()
    return {
        f.journal_id: _("Refund")
        + " · "
        + _said(f.redemption.outlet.name, [(ln.redemption_line.item_name, ln.qty) for ln in f.lines])
        for f in rows
    }


def _said(outlet_name: str, lines: list[tuple[str, int]]) -> str:
    return " · ".join([outlet_name, *(f"{name} ×{qty}" for name, qty in lines)])


# Kinds of journal this module describes (registered by the area's setup).
DESCRIBERS = {KIND_REDEMPTION: describe_redemptions, KIND_REFUND: describe_refunds}


def setup_counter(app) -> None:
    """Wire the member's side (called from the area's setup): the QR page's "just redeemed" panel and
    redemptions and refunds said in words in the points history."""
    from app.area import register_page_slot
    from app.points.history import register_describer

    register_page_slot(app, "member_qr", "outlets/_qr_redeemed.html", qr_panel)
    for kind, describer in DESCRIBERS.items():
        register_describer(app, kind, describer)
