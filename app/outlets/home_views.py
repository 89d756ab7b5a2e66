"""An outlet's home page (today's redemptions, low-stock items, the month's statement: points collected,
items out, stock value) and the same in short as a panel on the signed-in home page of outlet staff."""

from __future__ import annotations

from flask import Flask, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.routing import BuildError

from app.access import can
from app.area import register_home_panel
from app.db import get_session

from . import OUTLET_STAFF, OUTLET_SUPERVISOR
from .admin_views import outlet_for
from .labels import PENDING
from .models import Outlet, StockCount
from .page_queries import beijing_today, statement, stock_lines, todays_redemptions

PANEL_OUTLETS = 3


def counter_url(outlet: Outlet) -> str | None:
    """The counter page of the outlet (another page set of this area), when the user may redeem there."""
    if not can(current_user, "outlet.redeem", outlet):
        return None
    try:
        return url_for("outlets.counter", outlet_id=outlet.id)
    except BuildError:
        return None


@login_required
def outlet_home(outlet_id: int):
    db = get_session()
    outlet = outlet_for(outlet_id)
    today = beijing_today()
    can_stock = can(current_user, "outlet.stock.view", outlet)
    lines = stock_lines(db, outlet) if can_stock else []
    can_redemptions = can(current_user, "outlet.redemption.view", outlet)
    redemptions = todays_redemptions(db, outlet, today) if can_redemptions else []
    pending = (
        db.scalars(select(StockCount).where(StockCount.outlet_id == outlet.id, StockCount.status == PENDING)).all()
        if can_stock
        else []
    )
    return render_template(
        "outlets/home.html",
        outlet=outlet,
        tab="home",
        today=today,
        redemptions=redemptions,
        low=[line for line in lines if line.low and line.available],
        month=statement(db, outlet, today) if can_redemptions else None,
        pending=pending,
        can_redemptions=can_redemptions,
        counter=counter_url(outlet),
        history=history_url(outlet),
    )


def history_url(outlet: Outlet) -> str | None:
    """The outlet's list of redemptions (the counter's pages), when the user may see redemptions there."""
    if not can(current_user, "outlet.redemption.view", outlet):
        return None
    try:
        return url_for("outlets.counter_history", outlet_id=outlet.id)
    except BuildError:
        return None


def _my_outlet_ids() -> list[int]:
    """The outlets the signed-in user works at (their one-outlet grants' paths end in "o<id>/")."""
    ids = []
    for s in getattr(current_user, "scopes", []):
        if s.role in (OUTLET_STAFF, OUTLET_SUPERVISOR) and s.path:
            last = s.path.rstrip("/").rsplit("/", 1)[-1]
            if last.startswith("o") and last[1:].isdecimal():
                ids.append(int(last[1:]))
    return sorted(set(ids))


def _panel() -> dict | None:
    ids = _my_outlet_ids()
    if not ids:
        return None
    db = get_session()
    today = beijing_today()
    outlets = [
        o
        for o in db.scalars(select(Outlet).where(Outlet.id.in_(ids), Outlet.tenant_id == current_user.tenant_id))
        if can(current_user, "outlet.view", o)
    ][:PANEL_OUTLETS]
    if not outlets:
        return None
    shown = []
    for o in outlets:
        redemptions = todays_redemptions(db, o, today, limit=500)
        low = [line for line in stock_lines(db, o) if line.low and line.available]
        # A stock count waiting for a supervisor: said to whoever may apply it (the supervisor's nudge).
        counts = (
            db.scalars(
                select(StockCount).where(StockCount.outlet_id == o.id, StockCount.status == PENDING).limit(5)
            ).all()
            if can(current_user, "outlet.stock.adjust", o)
            else []
        )
        shown.append(
            {
                "outlet": o,
                "redemptions": len(redemptions),
                "points": sum(r.total_points for r in redemptions),
                "low": low[:5],
                "low_count": len(low),
                "counter": counter_url(o),
                "pending_counts": counts,
            }
        )
    return {"outlets": shown}


def install_panel(state) -> None:
    """Called once when the outlets blueprint is registered: the home page panel for outlet staff."""
    app: Flask = state.app
    register_home_panel(app, "outlets/_home_panel.html", _panel)
