"""A member's own live QR code (/me/qr, refreshed from /me/qr.svg) and the printable member card."""

from __future__ import annotations

import time
from xml.etree import ElementTree

import qrcode
import qrcode.image.svg
from flask import Response, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from qrcode.constants import ERROR_CORRECT_M

from app.access import require
from app.area import page_slots
from app.db import get_session, utcnow, writes_on_get
from app.places.models import District
from app.tokens import PURPOSES, make_token, seconds_to_next_step

from . import member_codes, services


def member_number(member) -> str:
    """The number printed on the card and read out at the counter."""
    return f"{member.id:06d}"


def qr_svg(token: str, title: str, **data: object) -> str:
    """The token as a QR code in one inline <svg>; `data` becomes data-* attributes on it."""
    image = qrcode.make(token, image_factory=qrcode.image.svg.SvgPathImage, error_correction=ERROR_CORRECT_M)
    svg = image.get_image()
    svg.set("role", "img")
    svg.set("aria-label", title)
    svg.set("data-token", token)
    for name, value in data.items():
        svg.set(f"data-{name.replace('_', '-')}", str(value))
    title_el = ElementTree.Element("title")
    title_el.text = title
    svg.insert(0, title_el)
    return ElementTree.tostring(svg, encoding="unicode")


def live_code(member=None) -> tuple[str, int, str]:
    """The signed-in member's QR token now, seconds until a fresh one is due, and their short code."""
    db = get_session()
    member = member or services.get_member(db, current_user.tenant_id, current_user.member_id)
    now = time.time()
    token = make_token("member", member.tenant_id, member.id, now)
    refresh_in = seconds_to_next_step("member", now)  # a fresh code is due when the next time step starts
    # The short code staff type when the camera cannot read the QR code: it lives longer than a QR
    # token and pays once, so each refresh shows the member's current one (a new one once it is used).
    short = member_codes.current_code(db, member.tenant_id, member.id, utcnow()).code
    return token, refresh_in, short


def _my_live_code():
    member = services.get_member(get_session(), current_user.tenant_id, current_user.member_id)
    token, refresh_in, short = live_code(member)
    svg = qr_svg(token, _("QR code of %(name)s", name=member.name), refresh_in=refresh_in, short_code=short)
    return member, token, svg, refresh_in, short


@login_required
@writes_on_get  # a new short code is issued when the last one was used or ran out
def my_qr():
    member, token, svg, refresh_in, short = _my_live_code()
    return render_template(
        "people/qr.html",
        member=member,
        token=token,
        short_code=short,
        svg=Markup(svg),
        refresh_in=refresh_in,
        lifetime=PURPOSES["member"].step_seconds * (PURPOSES["member"].valid_steps + 1),
        # Pieces of higher areas (an outlet's "just redeemed" panel) through app.area.register_page_slot.
        slots=page_slots(current_app, "member_qr"),
    )


@login_required
@writes_on_get
def my_qr_svg():
    svg = _my_live_code()[2]
    resp = Response(svg, mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"  # a stale code would be refused at the counter
    return resp


@login_required
def member_card(member_id: int):
    db = get_session()
    member = services.get_member(db, current_user.tenant_id, member_id)
    require(current_user, "member.view", member)
    # The card's code never expires, so it is a "member_card" token: it identifies the member at a
    # counter or an activity, and never authorises spending on its own (see app/tokens.py).
    token = make_token("member_card", member.tenant_id, member.id)
    svg = qr_svg(token, _("Member card of %(name)s", name=member.name))
    return render_template(
        "people/card.html",
        member=member,
        token=token,
        svg=Markup(svg),
        number=member_number(member),
        district=db.get(District, member.tenant_id),
    )
