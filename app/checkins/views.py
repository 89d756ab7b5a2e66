"""Pages of the checkins area: sites (list, create, a site's page, its printable poster and rotating
code), the scan page a party member lands on from a site's code, my check-ins, household visits (log,
my visits, the grid admin's queue)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup, escape
from sqlalchemy import select

from app.access import can, path_filter, require
from app.db import get_session, utcnow
from app.errors import AppError
from app.forms import show_errors
from app.geo import coordinate
from app.pagination import paginate
from app.people import services as people
from app.people.models import Member
from app.people.qr_views import qr_svg
from app.places.models import OrgUnit
from app.points import caps
from app.points.checkin_rules import CheckinRule, change_checkin_rule, checkin_rule_for
from app.points.labels import KIND_CHECKIN
from app.times import to_beijing, to_utc
from app.tokens import PURPOSES, TokenInvalid, make_token, seconds_to_next_step

from . import errors, services
from .forms import (
    CheckinRuleForm,
    DecideForm,
    ScanForm,
    SiteCloseForm,
    SiteEditForm,
    SiteForm,
    SiteReopenForm,
    VisitForm,
)
from .labels import SOURCE_LABELS, VISIT_STATUS_LABELS
from .models import CheckinSite

SCAN_SEEN_SECONDS = 10 * 60
LABELS = {"source": SOURCE_LABELS, "visit": VISIT_STATUS_LABELS}


def _render(template: str, status: int = 200, **context):
    return render_template(template, L=LABELS, **context), status


def _site(site_id: int, action: str = "checkin.site.view") -> CheckinSite:
    site = services.get_site(get_session(), current_user.tenant_id, site_id)
    require(current_user, action, site)
    return site


def _me():
    return people.get_member(get_session(), current_user.tenant_id, current_user.member_id)


def party_member() -> bool:
    """Whether the signed-in user is a party member (the menu shows them the check-in links)."""
    if not current_user.is_authenticated or not getattr(current_user, "member_id", None):
        return False
    return bool(get_session().scalar(select(Member.is_party_member).where(Member.id == current_user.member_id)))


# --- sites -----------------------------------------------------------------------------------------------


@login_required
def list_sites():
    require(current_user, "checkin.site.view")
    db = get_session()
    stmt = services.sites_query(current_user.tenant_id).where(
        path_filter(current_user, "checkin.site.view", OrgUnit.path)
    )
    page = paginate(db, stmt, size=50)
    return _render("checkins/sites.html", page=page, can_edit=can(current_user, "checkin.site.edit"))


@login_required
def new_site():
    require(current_user, "checkin.site.edit")
    form = SiteForm()
    if form.validate_on_submit():
        unit = form.unit.data
        require(current_user, "checkin.site.edit", unit)
        try:
            site = services.create_site(
                get_session(),
                current_user.tenant_id,
                current_user.user_id,
                unit,
                form.name.data or "",
                form.lat.data,
                form.lng.data,
                form.radius_m.data,
            )
        except AppError as e:
            show_errors(form, e)
            return _render("checkins/site_form.html", e.status, form=form)
        flash(_("Check-in site %(name)s created.", name=site.name))
        return redirect(url_for("checkins.site_page", site_id=site.id))
    return _render("checkins/site_form.html", 422 if form.errors else 200, form=form)


@login_required
def site_page(site_id: int):
    site = _site(site_id)
    return _render("checkins/site.html", site=site, can_edit=can(current_user, "checkin.site.edit", site))


@login_required
def edit_site(site_id: int):
    site = _site(site_id, "checkin.site.edit")
    form = SiteEditForm(obj=site) if request.method == "GET" else SiteEditForm()
    if form.validate_on_submit():
        try:
            services.update_site(
                get_session(),
                site,
                current_user.user_id,
                form.name.data or "",
                form.lat.data,
                form.lng.data,
                form.radius_m.data,
            )
        except AppError as e:
            show_errors(form, e)
            return _render("checkins/site_edit.html", e.status, form=form, site=site, close_form=SiteCloseForm())
        flash(_("Check-in site %(name)s saved.", name=site.name), "success")
        return redirect(url_for("checkins.site_page", site_id=site.id))
    status = 422 if form.errors else 200
    return _render("checkins/site_edit.html", status, form=form, site=site, close_form=SiteCloseForm())


@login_required
def close_site(site_id: int):
    """GET: the confirmation (what closing does, with a reason to give); POST: close it."""
    site = _site(site_id, "checkin.site.edit")
    form = SiteCloseForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.close_site(get_session(), site, current_user.user_id, form.reason.data or "")
        except AppError as e:
            show_errors(form, e)
            return _render("checkins/site_close.html", e.status, form=form, site=site)
        flash(_("%(name)s is closed: its poster and code no longer record check-ins.", name=site.name), "success")
        return redirect(url_for("checkins.site_page", site_id=site.id))
    status = 422 if form.errors else 200
    return _render("checkins/site_close.html", status, form=form, site=site)


@login_required
def reopen_site(site_id: int):
    site = _site(site_id, "checkin.site.edit")
    if not SiteReopenForm().validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return redirect(url_for("checkins.site_page", site_id=site.id))
    services.reopen_site(get_session(), site, current_user.user_id)
    flash(_("%(name)s is open again: its poster and code record check-ins.", name=site.name), "success")
    return redirect(url_for("checkins.site_page", site_id=site.id))


def _scan_url(token: str) -> str:
    return url_for("checkins.scan_page", token=token, _external=True)


def _code_svg(token: str, title: str, **data: object) -> str:
    svg = qr_svg(_scan_url(token), title, **data)
    return svg.replace(f'data-token="{escape(_scan_url(token))}"', f'data-token="{escape(token)}"', 1)


@login_required
def poster(site_id: int):
    site = _site(site_id, "checkin.site.edit")
    token = make_token("site_poster", site.tenant_id, site.id)
    svg = _code_svg(token, _("Check-in poster of %(name)s", name=site.name))
    return _render("checkins/poster.html", site=site, token=token, svg=Markup(svg))


def _live_code(site: CheckinSite):
    now = time.time()
    token = make_token("checkin_site", site.tenant_id, site.id, now)
    refresh_in = seconds_to_next_step("checkin_site", now)
    svg = _code_svg(token, _("Check-in code of %(name)s", name=site.name), refresh_in=refresh_in)
    return token, svg, refresh_in


@login_required
def code_screen(site_id: int):
    site = _site(site_id, "checkin.site.edit")
    token, svg, refresh_in = _live_code(site)
    purpose = PURPOSES["checkin_site"]
    return _render(
        "checkins/code.html",
        site=site,
        token=token,
        svg=Markup(svg),
        refresh_in=refresh_in,
        lifetime=(purpose.step_seconds or 30) * (purpose.valid_steps + 1),
    )


@login_required
def code_svg(site_id: int):
    site = _site(site_id, "checkin.site.edit")
    resp = Response(_live_code(site)[1], mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- the scan page ---------------------------------------------------------------------------------------


def _seen_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="checkins.scan-seen")


def _seen_at(token: str) -> datetime | None:
    """When this code was first opened before signing in (signed, in the URL), if at most 10 minutes ago."""
    raw = request.args.get("seen") or ""
    if not raw:
        return None
    try:
        data = _seen_signer().loads(raw, max_age=SCAN_SEEN_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("token") != token or not isinstance(data.get("t"), (int, float)):
        return None
    if not 0 <= time.time() - data["t"] <= SCAN_SEEN_SECONDS:
        return None
    return datetime.fromtimestamp(data["t"], UTC).replace(tzinfo=None)


def _scan_error(e: AppError, token: str):
    return _render("checkins/scan_result.html", e.status, ok=False, message=e.message, token=token)


def scan_page(token: str):
    """GET shows which site the code is for (and, with JavaScript, sends the form at once); it changes nothing."""
    if not current_user.is_authenticated:
        seen = None
        try:
            services.read_site_token(token)
            seen = _seen_signer().dumps({"token": token, "t": int(time.time())})
        except TokenInvalid:
            pass
        return redirect(url_for("auth.signin", next=url_for("checkins.scan_page", token=token, seen=seen)))
    seen_at = _seen_at(token)
    try:
        site_id, _source, _t = services.read_site_token(
            token, current_user.tenant_id, seen_at.timestamp() if seen_at else None
        )
        site = services.get_site(get_session(), current_user.tenant_id, site_id)
        if not site.active:
            raise errors.SiteClosed(services.closed_message(site))
    except AppError as e:
        return _scan_error(e, token)
    return _render("checkins/scan.html", site=site, form=ScanForm(formdata=None), action=request.full_path.rstrip("?"))


@login_required
def scan_record(token: str):
    form = ScanForm()
    if not form.validate_on_submit():
        return _render(
            "checkins/scan_result.html", 400, ok=False, message=_("The form expired. Scan the code again."), token=token
        )
    try:
        result = services.check_in(
            get_session(),
            _me(),
            token,
            lat=coordinate(form.lat.data),
            lng=coordinate(form.lng.data),
            seen_at=_seen_at(token),
        )
    except AppError as e:
        return _scan_error(e, token)
    return _render("checkins/scan_result.html", ok=True, result=result, c=result.checkin, site=result.site)


# --- my check-ins ----------------------------------------------------------------------------------------


@login_required
def my_checkins():
    db = get_session()
    member = _me()
    page = paginate(db, services.my_checkins_query(member), size=30)
    now = datetime.now(UTC).replace(tzinfo=None)
    month = to_beijing(now).strftime("%Y-%m")
    rule = checkin_rule_for(db, member.tenant_id, now)
    used = caps.used(db, member.tenant_id, member.id, KIND_CHECKIN, month)
    return _render("checkins/my_checkins.html", page=page, member=member, rule=rule, used=used, month=month)


# --- household visits ------------------------------------------------------------------------------------


def _visit_form(member) -> VisitForm:
    form = VisitForm()
    today = to_beijing(datetime.now(UTC).replace(tzinfo=None)).date()
    grids = services.responsible_grids(get_session(), member, today)
    form.grid.choices = [(g.id, g.name) for g in grids]
    if not form.visit_date.data:
        form.visit_date.data = today
    return form


@login_required
def my_visits():
    db = get_session()
    member = _me()
    form = _visit_form(member)
    if form.validate_on_submit():
        try:
            services.log_visit(
                db, member, form.grid.data, form.visit_date.data, form.households.data, form.note.data or ""
            )
        except AppError as e:
            return _render(
                "checkins/my_visits.html",
                e.status,
                form=form,
                page=paginate(db, services.my_visits_query(member), size=30),
                problem=e.message,
            )
        flash(_("Visit recorded; the grid admin will confirm it."))
        return redirect(url_for("checkins.my_visits"))
    page = paginate(db, services.my_visits_query(member), size=30)
    return _render("checkins/my_visits.html", 422 if form.errors else 200, form=form, page=page, problem=None)


@login_required
def visit_queue():
    require(current_user, "visit.confirm")
    db = get_session()
    stmt = services.visit_queue_query(current_user.tenant_id).where(
        path_filter(current_user, "visit.confirm", OrgUnit.path)
    )
    page = paginate(db, stmt, size=30)
    return _render("checkins/visit_queue.html", page=page, form=DecideForm(formdata=None), problem=None)


@login_required
def decide_visit(visit_id: int):
    db = get_session()
    visit = services.get_visit(db, current_user.tenant_id, visit_id)
    require(current_user, "visit.confirm", visit)
    form = DecideForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Try again."))
        return redirect(url_for("checkins.visit_queue"))
    if request.form.get("confirm") != "yes":  # a decision is final: say what it does, then ask
        return _render(
            "checkins/visit_confirm.html",
            200,
            visit=visit,
            decision=form.decision.data,
            reason=(form.reason.data or "").strip(),
            form=DecideForm(formdata=None),
        )
    try:
        services.decide_visit(
            db,
            visit,
            current_user.user_id,
            form.decision.data == "confirm",
            form.reason.data or "",
            actor_member_id=current_user.member_id,
        )
    except AppError as e:
        page = paginate(
            db,
            services.visit_queue_query(current_user.tenant_id).where(
                path_filter(current_user, "visit.confirm", OrgUnit.path)
            ),
            size=30,
        )
        return _render(
            "checkins/visit_queue.html", e.status, page=page, form=DecideForm(formdata=None), problem=e.message
        )
    flash(_("Visit confirmed.") if form.decision.data == "confirm" else _("Visit rejected."))
    return redirect(url_for("checkins.visit_queue"))


# --- the check-in points rule (district admins; the rule itself lives in app/points/checkin_rules.py) -------


@login_required
def checkin_rule():
    require(current_user, "points.rules.view")
    db = get_session()
    tenant = current_user.tenant_id
    status = 200
    if request.method == "POST":
        require(current_user, "points.rules.edit")
        form = CheckinRuleForm()
        if form.validate():
            try:
                change_checkin_rule(
                    db,
                    tenant,
                    current_user.user_id,
                    points_per_checkin=form.points_per_checkin.data or 0,
                    other_site_points=form.other_site_points.data or 0,
                    monthly_cap=form.monthly_cap.data,
                    effective_from=to_utc(form.effective_from.data) if form.effective_from.data else None,
                    reason=form.reason.data or "",
                )
                flash(_("The new check-in rule version is saved."), "success")
                return redirect(url_for("checkins.checkin_rule"))
            except AppError as e:
                show_errors(form, e)
        status = 422
    current = checkin_rule_for(db, tenant, utcnow())
    if request.method != "POST":
        form = CheckinRuleForm(
            formdata=None,
            points_per_checkin=current.points_per_checkin,
            other_site_points=current.other_site_points,
            monthly_cap=current.monthly_cap,
        )
    versions = db.scalars(
        select(CheckinRule).where(CheckinRule.tenant_id == tenant).order_by(CheckinRule.version.desc()).limit(50)
    ).all()
    return _render(
        "checkins/rule.html",
        status,
        form=form,
        current=current,
        versions=versions,
        now=utcnow(),
        may_edit=can(current_user, "points.rules.edit"),
    )
