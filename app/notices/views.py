"""The notices page: a member's notices, newest first, in their language; "mark all read" (a POST)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import get_session

from . import services
from .channels import render

SHOWN = 100


@login_required
def list_notices():
    db = get_session()
    items = services.notices_of(db, current_user.tenant_id, current_user.member_id, limit=SHOWN)
    return render_template(
        "notices/list.html",
        notices=[(n, render(n.kind, n.params or {})) for n in items],
        unread=sum(1 for n in items if n.read_at is None),
    )


@login_required
def mark_read():
    services.mark_read(get_session(), current_user.tenant_id, current_user.member_id)
    flash(_("All your notices are marked read."), "success")
    return redirect(url_for("notices.list_notices"))


def unread_notices() -> int:
    """For the menu's badge: how many of the signed-in member's notices are unread (0 when signed out)."""
    if not current_user.is_authenticated or getattr(current_user, "member_id", None) is None:
        return 0
    if "unread_notices" not in g:  # the menu shows it twice (wide screens and the phone menu)
        g.unread_notices = services.unread_count(get_session(), current_user.tenant_id, current_user.member_id)
    return g.unread_notices
