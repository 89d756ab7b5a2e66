"""Organisers' pages: the activity list, create and edit, an activity's page (publish, cancel), the
rotating check-in/out codes and the printable posters, live view, hand and paper entries, the review
queue and the attendance export; and the scan page volunteers land on from a code."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime

from flask import Response, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup, escape
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.access import can, path_filter, require, scopes_for
from app.db import get_session, keep_changes_on_error, utcnow
from app.errors import AppError, Forbidden
from app.forms import ConfirmForm, show_errors
from app.geo import coordinate
from app.pagination import paginate
from app.people import services as people
from app.people.models import Member
from app.people.qr_views import qr_svg
from app.places.models import OrgUnit
from app.points import awards
from app.points.labels import CATEGORY_LABELS
from app.spreadsheets import append_text_row
from app.times import beijing, to_beijing, to_utc
from app.tokens import PURPOSES, TokenInvalid, make_token, seconds_to_next_step

from . import errors, services
from .forms import TAG_LABELS, ActivityForm, ByHandForm, CancelActivityForm, PaperForm, ReviewForm, ScanForm
from .labels import (
    ACTIVITY_STATUS_LABELS,
    ATTENDANCE_STATUS_LABELS,
    CHECKIN,
    CONFIRMED,
    DRAFT,
    ELIGIBILITY_LABELS,
    IN,
    POINTS_REVERSED,
    PUBLISHED,
    REVIEWED,
    SIGNUP_STATUS_LABELS,
    SOURCE_LABELS,
    WAITLISTED,
    ZERO_REASON_LABELS,
)
from .models import Activity, Attendance, Signup

CODE_PURPOSES = {"in": "activity_checkin", "out": "activity_checkout"}
POSTER_PURPOSES = {"in": "poster_checkin", "out": "poster_checkout"}
SCAN_SEEN_SECONDS = 10 * 60  # a code opened before signing in still counts this long after it was opened

LABELS = {
    "status": ACTIVITY_STATUS_LABELS,
    "attendance": ATTENDANCE_STATUS_LABELS,
    "signup": SIGNUP_STATUS_LABELS,
    "source": SOURCE_LABELS,
    "zero": ZERO_REASON_LABELS,
    "category": CATEGORY_LABELS,
    "eligibility": ELIGIBILITY_LABELS,
    "tag": TAG_LABELS,
}


def hours(minutes: int | None) -> str:
    """Minutes as hours for people: 150 → '2.5'."""
    minutes = minutes or 0
    return str(minutes // 60) if minutes % 60 == 0 else f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def _render(template: str, status: int = 200, **context):
    return render_template(template, L=LABELS, hours=hours, **context), status


def _activity(activity_id: int, action: str = "activity.view") -> Activity:
    activity = services.get_activity(get_session(), current_user.tenant_id, activity_id)
    require(current_user, action, activity)
    return activity


# --- the organiser's list ------------------------------------------------------------------------------


@login_required
def organiser_panel() -> dict | None:
    """The organiser's panel on the home page: today's activities with live counts, and how many
    attendances wait for their review (registered in the area's setup)."""
    if not current_user.is_authenticated or not can(current_user, "activity.view"):
        return None
    db = get_session()
    scope = path_filter(current_user, "activity.view", OrgUnit.path)
    today = services.todays_activities(db, current_user.tenant_id, scope)
    waiting = 0
    if can(current_user, "attendance.review"):
        waiting = services.waiting_review_count(
            db, current_user.tenant_id, path_filter(current_user, "attendance.review", OrgUnit.path)
        )
    return {"today": today, "counts": services.live_counts(db, [a.id for a in today]), "waiting": waiting}


def organise_home():
    if not (can(current_user, "activity.view") or can(current_user, "activity.edit")):
        raise Forbidden(_("You do not have permission to do this."))
    db = get_session()
    tenant = current_user.tenant_id
    scope = path_filter(current_user, "activity.view", OrgUnit.path)
    now = utcnow()
    base = services.managed_query(tenant, scope)
    today = services.todays_activities(db, tenant, scope, now)
    counts = services.live_counts(db, [a.id for a in today])
    waiting = services.waiting_review_count(db, tenant, path_filter(current_user, "attendance.review", OrgUnit.path))
    q = (request.args.get("q") or "").strip()[:100]
    show = request.args.get("show") if request.args.get("show") in ("upcoming", "past", "review") else "upcoming"
    stmt = base
    if q:
        stmt = stmt.where(Activity.title.contains(q, autoescape=True))
    if show == "upcoming":
        stmt = stmt.where(Activity.ends_at > now).order_by(Activity.starts_at, Activity.id)
    elif show == "review":  # where hours wait: each with its own link to the review
        stmt = stmt.where(services.has_waiting_review()).order_by(Activity.starts_at.desc(), Activity.id.desc())
    else:
        stmt = stmt.where(Activity.ends_at <= now).order_by(Activity.starts_at.desc(), Activity.id.desc())
    page = paginate(db, stmt, size=20)
    if show == "review":
        counts = {**counts, **services.live_counts(db, [a.id for a in page.items])}
    return _render(
        "activities/manage/home.html",
        today=today,
        counts=counts,
        waiting=waiting,
        page=page,
        q=q,
        show=show,
        may_create=can(current_user, "activity.edit"),
    )


# --- create and edit -----------------------------------------------------------------------------------


def _data_from(form: ActivityForm) -> services.ActivityData:
    def utc(value: datetime | None) -> datetime | None:
        return to_utc(value) if value is not None else None

    starts, ends = utc(form.starts_at.data), utc(form.ends_at.data)
    assert starts is not None and ends is not None  # InputRequired
    return services.ActivityData(
        title=form.title.data or "",
        description=form.description.data or "",
        category=form.category.data or "",
        host_unit_id=form.host_unit_id.unit_id or 0,
        place=form.place.data or "",
        lat=form.lat.data,
        lng=form.lng.data,
        radius_m=form.radius_m.data,
        starts_at=starts,
        ends_at=ends,
        capacity=form.capacity.data or 0,
        signup_opens_at=utc(form.signup_opens_at.data),
        signup_closes_at=utc(form.signup_closes_at.data),
        eligibility=form.eligibility.data or "district",
        eligible_unit_id=form.eligible_unit_id.unit_id,
        eligible_tag=form.eligible_tag.data or None,
        walk_ins=bool(form.walk_ins.data),
    )


@login_required
def new_activity():
    require(current_user, "activity.edit")
    db = get_session()
    form = ActivityForm()
    if form.validate_on_submit():
        unit = form.host_unit_id.data
        require(current_user, "activity.edit", unit)
        try:
            activity = services.create_activity(
                db, current_user.tenant_id, _data_from(form), actor_user_id=current_user.user_id
            )
            flash(_("Saved as a draft. Publish it to open sign-up."), "success")
            return redirect(url_for("activities.manage_activity", activity_id=activity.id))
        except AppError as e:
            show_errors(form, e)
    if request.method == "GET":
        # An organiser of one unit hosts there: the host starts filled in (they may type another).
        scopes = scopes_for(current_user, "activity.edit")
        if len(scopes) == 1 and scopes[0].path:
            own = db.scalar(
                select(OrgUnit).where(OrgUnit.tenant_id == current_user.tenant_id, OrgUnit.path == scopes[0].path)
            )
            if own is not None and own.retired_at is None:
                form.host_unit_id.set_unit(own)
    status = 422 if request.method == "POST" else 200
    return _render("activities/manage/edit.html", status, form=form, activity=None)


@login_required
def edit_activity(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "activity.edit")
    if request.method == "POST":
        form = ActivityForm()
    else:
        form = ActivityForm(obj=activity)
        # The form shows Beijing time (obj= would give the stored UTC).
        for name in ("starts_at", "ends_at", "signup_opens_at", "signup_closes_at"):
            value = getattr(activity, name)
            getattr(form, name).data = to_beijing(value) if value is not None else None
        form.host_unit_id.set_unit(activity.host_unit)
        form.eligible_unit_id.set_unit(activity.eligible_unit)
        form.eligible_tag.data = activity.eligible_tag or ""
    if form.validate_on_submit():
        require(current_user, "activity.edit", form.host_unit_id.data)
        try:
            services.update_activity(db, activity, _data_from(form), actor_user_id=current_user.user_id)
            flash(_("Saved."), "success")
            return redirect(url_for("activities.manage_activity", activity_id=activity.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return _render("activities/manage/edit.html", status, form=form, activity=activity)


# --- an activity's page, publish, cancel ----------------------------------------------------------------


@login_required
def manage_activity(activity_id: int):
    db = get_session()
    activity = _activity(activity_id)
    signups = list(
        db.scalars(
            select(Signup)
            .options(joinedload(Signup.member))
            .where(Signup.activity_id == activity.id, Signup.status.in_((CONFIRMED, WAITLISTED)))
            .order_by(Signup.queued_at, Signup.id)
        )
    )
    counts = services.live_counts(db, [activity.id])[activity.id]
    return _render(
        "activities/manage/activity.html",
        activity=activity,
        confirmed=[s for s in signups if s.status == CONFIRMED],
        waiting=[s for s in signups if s.status == WAITLISTED],
        counts=counts,
        may_edit=can(current_user, "activity.edit", activity),
        may_manage=can(current_user, "attendance.manage", activity),
        may_review=can(current_user, "attendance.review", activity),
        may_export=can(current_user, "attendance.export", activity),
        DRAFT=DRAFT,
        PUBLISHED=PUBLISHED,
    )


@login_required
def publish_activity(activity_id: int):
    """Asks first: publishing opens sign-up to volunteers and cannot be taken back (an activity once
    published can only be cancelled). Only a POST with confirm=yes publishes."""
    activity = _activity(activity_id, "activity.edit")
    back = url_for("activities.manage_activity", activity_id=activity.id)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.publish_activity(get_session(), activity, actor_user_id=current_user.user_id)
            flash(_("Published: volunteers can now sign up."), "success")
        except AppError as e:
            flash(e.message, "error")
        return redirect(back)
    if activity.status != DRAFT:  # nothing to publish (already published, or cancelled)
        return redirect(back)
    return _render(
        "confirm.html",
        form=ConfirmForm(formdata=None),
        title=_("Publish “%(title)s”?", title=activity.title),
        question=_(
            "Publish “%(title)s” on %(when)s? Volunteers will see it and can sign up for its %(cap)d places.",
            title=activity.title,
            when=beijing(activity.starts_at),
            cap=activity.capacity,
        ),
        consequence=_(
            "A published activity cannot go back to a draft: you can still edit it, or cancel it and tell "
            "everyone signed up."
        ),
        action=url_for("activities.publish_activity", activity_id=activity.id),
        button=_("Publish"),
        button_class="",
        back=back,
    )


@login_required
def cancel_activity(activity_id: int):
    """Asks first: the page says what happens; only a POST with confirm=yes and a reason cancels."""
    db = get_session()
    activity = _activity(activity_id, "activity.edit")
    form = CancelActivityForm()
    status = 200
    if request.method == "POST" and form.confirm.data == "yes":
        if form.validate():
            try:
                services.cancel_activity(db, activity, form.reason.data or "", actor_user_id=current_user.user_id)
                flash(_("Cancelled. Everyone signed up has been told."), "success")
                return redirect(url_for("activities.manage_activity", activity_id=activity.id))
            except AppError as e:
                show_errors(form, e)
        status = 422
    return _render(
        "confirm.html",
        status,
        form=form,
        title=_("Cancel “%(title)s”?", title=activity.title),
        question=_(
            "Cancel “%(title)s” on %(when)s? %(n)d people signed up will be told, with your reason.",
            title=activity.title,
            when=beijing(activity.starts_at),
            n=activity.confirmed_count,
        ),
        consequence=_("This cannot be undone: a cancelled activity cannot be published again."),
        action=url_for("activities.cancel_activity", activity_id=activity.id),
        button=_("Cancel the activity"),
        back=url_for("activities.manage_activity", activity_id=activity.id),
        extra_field=form.reason,
    )


# --- codes and posters -----------------------------------------------------------------------------------


def _scan_url(token: str) -> str:
    return url_for("activities.scan_page", token=token, _external=True)


def _code_svg(token: str, title: str, **data: object) -> str:
    """The scan page's URL for `token` as an inline QR <svg>; data-token holds the token itself (the
    text under the code, and what static/js/qr.js keeps in step)."""
    svg = qr_svg(_scan_url(token), title, **data)
    return svg.replace(f'data-token="{escape(_scan_url(token))}"', f'data-token="{escape(token)}"', 1)


def _live_code(activity: Activity, direction: str):
    purpose = CODE_PURPOSES[direction]
    now = time.time()
    token = make_token(purpose, activity.tenant_id, activity.id, now)
    refresh_in = seconds_to_next_step(purpose, now)
    title = (
        _("Check-in code of %(title)s", title=activity.title)
        if direction == "in"
        else _("Check-out code of %(title)s", title=activity.title)
    )
    svg = _code_svg(token, title, refresh_in=refresh_in)
    return token, svg, refresh_in


@login_required
def code_screen(activity_id: int, direction: str):
    activity = _activity(activity_id, "attendance.manage")
    token, svg, refresh_in = _live_code(activity, direction)
    purpose = PURPOSES[CODE_PURPOSES[direction]]
    return _render(
        "activities/manage/code.html",
        activity=activity,
        direction=direction,
        token=token,
        svg=Markup(svg),
        refresh_in=refresh_in,
        lifetime=(purpose.step_seconds or 30) * (purpose.valid_steps + 1),
    )


@login_required
def code_svg(activity_id: int, direction: str):
    activity = _activity(activity_id, "attendance.manage")
    resp = Response(_live_code(activity, direction)[1], mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"  # a stale code would be refused
    return resp


@login_required
def poster(activity_id: int, direction: str):
    activity = _activity(activity_id, "attendance.manage")
    token = make_token(POSTER_PURPOSES[direction], activity.tenant_id, activity.id)
    title = (
        _("Check-in poster of %(title)s", title=activity.title)
        if direction == "in"
        else _("Check-out poster of %(title)s", title=activity.title)
    )
    return _render(
        "activities/manage/poster.html",
        activity=activity,
        direction=direction,
        token=token,
        svg=Markup(_code_svg(token, title)),
    )


# --- live view, hand and paper entries -------------------------------------------------------------------


@login_required
def live(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "attendance.manage")
    rows = services.attendances(db, activity)
    ended = activity.ends_at <= utcnow()
    present = [a for a in rows if a.status == IN]
    return _render(
        "activities/manage/live.html",
        reversed_ids=awards.reversed_attendances(db, activity.tenant_id, [a.id for a in rows if a.status in REVIEWED]),
        status_labels=ATTENDANCE_STATUS_LABELS,
        POINTS_REVERSED=POINTS_REVERSED,
        activity=activity,
        present=[] if ended else present,
        missing=present if ended else [],
        left=[a for a in rows if a.status != IN],
        counts=services.live_counts(db, [activity.id])[activity.id],
    )


def _find_members(text: str) -> list[Member]:
    """Members found by the last 4 digits of the mobile, or by part of the name."""
    text = (text or "").strip()[:50]
    if not text:
        return []
    db = get_session()
    if text.isdecimal():
        return services.find_by_mobile_tail(db, current_user.tenant_id, text)
    return list(
        db.scalars(
            select(Member)
            .where(
                Member.tenant_id == current_user.tenant_id,
                Member.status == "active",
                Member.name.contains(text, autoescape=True),
            )
            .order_by(Member.name, Member.id)
            .limit(10)
        )
    )


def _chosen_member(member_id) -> Member:
    raw = str(member_id or "")
    if not raw.isdecimal() or len(raw) > 18:
        raise errors.ActivityInvalid(_("Find the person and choose them."), field="member_id")
    return people.get_member(get_session(), current_user.tenant_id, int(raw))


@login_required
def by_hand(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "attendance.manage")
    form = ByHandForm() if request.method == "POST" else ByHandForm(formdata=None, at=to_beijing(utcnow()))
    tail = (request.values.get("tail") or "").strip()
    found = services.find_by_mobile_tail(db, current_user.tenant_id, tail) if tail else []
    if form.validate_on_submit():
        try:
            member = _chosen_member(form.member_id.data)
            assert form.at.data is not None
            result = services.record_by_hand(
                db,
                activity,
                member,
                direction=form.direction.data or CHECKIN,
                at=to_utc(form.at.data),
                reason=form.reason.data or "",
                actor_user_id=current_user.user_id,
            )
            if result.already:
                flash(_("%(name)s already had this recorded; nothing changed.", name=member.name), "info")
            elif result.direction == CHECKIN:
                flash(
                    _("%(name)s checked in at %(time)s.", name=member.name, time=form.at.data.strftime("%H:%M")),
                    "success",
                )
            else:
                flash(_("%(name)s checked out; waiting for review.", name=member.name), "success")
            return redirect(url_for("activities.by_hand", activity_id=activity.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return _render("activities/manage/by_hand.html", status, activity=activity, form=form, tail=tail, found=found)


@login_required
def paper(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "attendance.manage")
    if request.method == "POST":
        form = PaperForm()
    else:
        form = PaperForm(
            formdata=None, checked_in_at=to_beijing(activity.starts_at), checked_out_at=to_beijing(activity.ends_at)
        )
    who = (request.values.get("who") or "").strip()
    found = _find_members(who)
    if form.validate_on_submit():
        try:
            member = _chosen_member(form.member_id.data)
            assert form.checked_in_at.data is not None and form.checked_out_at.data is not None
            services.record_paper(
                db,
                activity,
                member,
                checked_in_at=to_utc(form.checked_in_at.data),
                checked_out_at=to_utc(form.checked_out_at.data),
                reason=form.reason.data or "",
                actor_user_id=current_user.user_id,
            )
            flash(_("Entered for %(name)s; it waits for review, marked as from paper.", name=member.name), "success")
            return redirect(url_for("activities.paper", activity_id=activity.id))
        except AppError as e:
            show_errors(form, e)
    status = 422 if request.method == "POST" else 200
    return _render("activities/manage/paper.html", status, activity=activity, form=form, who=who, found=found)


# --- review and export -----------------------------------------------------------------------------------


def _int(raw) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdecimal() and len(raw) < 10 else None


def _decision_from(form, queue: list[Attendance]) -> services.Review:
    ids = {a.id for a in queue}
    approve = [i for i in (_int(v) for v in form.getlist("approve")) if i is not None]
    adjust: list[tuple[int, int, str]] = []
    reject: list[tuple[int, str]] = []
    for aid in ids:
        change = form.get(f"change-{aid}")
        reason = (form.get(f"reason-{aid}") or "").strip()
        if change == "adjust":
            minutes = _int(form.get(f"minutes-{aid}"))
            if minutes is None:
                raise errors.ReviewInvalid(_("Enter the credited minutes as a whole number."), field="adjust")
            adjust.append((aid, minutes, reason))
        elif change == "reject":
            reject.append((aid, reason))
    return services.Review(approve=approve, adjust=adjust, reject=reject)


def _review_page(activity: Activity, status: int = 200, problem: str | None = None, sent=None):
    """The review page; `sent`: the form as it came back refused, shown again as it was (ticks, changes,
    minutes and reasons) with each row that lacks a reason marked, so nothing typed is lost."""
    queue = services.review_queue(get_session(), activity)
    return _render(
        "activities/manage/review.html",
        status,
        activity=activity,
        queue=queue,
        form=ReviewForm(formdata=None),
        problem=problem,
        sent=sent,
        ticked=set(sent.getlist("approve")) if sent is not None else set(),
    )


def _outcome_message(out: services.ReviewOutcome) -> str:
    return _(
        "Done: %(a)d approved, %(j)d adjusted, %(r)d rejected; %(p)d points credited.",
        a=out.approved,
        j=out.adjusted,
        r=out.rejected,
        p=out.points,
    )


@login_required
def review(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "attendance.review")
    if request.method == "GET":
        return _review_page(activity)
    if not ReviewForm().validate_on_submit():
        return _review_page(activity, 400, _("The form expired. Try again."))
    try:
        decision = _decision_from(request.form, services.review_queue(db, activity))
        if not (decision.approve or decision.adjust or decision.reject):
            return _review_page(activity, 422, _("Tick the attendances to approve, or choose adjust or reject."))
        out = services.review(
            db, activity, decision, actor_user_id=current_user.user_id, actor_member_id=current_user.member_id
        )
    except AppError as e:
        return _review_page(activity, e.status, e.message, sent=request.form)
    flash(_outcome_message(out), "success")
    return redirect(url_for("activities.review", activity_id=activity.id))


@login_required
def review_all(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "attendance.review")
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            out = services.review(
                db,
                activity,
                services.Review(approve="all"),
                actor_user_id=current_user.user_id,
                actor_member_id=current_user.member_id,
            )
        except AppError as e:
            return _review_page(activity, e.status, e.message)
        flash(_outcome_message(out), "success")
        return redirect(url_for("activities.review", activity_id=activity.id))
    n = len(services.review_queue(db, activity))
    return _render(
        "confirm.html",
        form=ConfirmForm(formdata=None),
        title=_("Approve all?"),
        question=_(
            "Approve all %(n)d attendances waiting at “%(title)s”, with the times and points shown?",
            n=n,
            title=activity.title,
        ),
        consequence=_(
            "The volunteers get their points at once. An approval cannot be undone: points approved by mistake "
            "are taken back by a district administrator (Correct approved hours), with a reason."
        ),
        action=url_for("activities.review_all", activity_id=activity.id),
        button=_("Approve all %(n)d", n=n),
        back=url_for("activities.review", activity_id=activity.id),
    )


@login_required
def export_attendances(activity_id: int):
    db = get_session()
    activity = _activity(activity_id, "attendance.export")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("Attendance")[:31]
    append_text_row(
        ws,
        [
            _("Name"),
            _("Mobile"),
            _("Checked in (Beijing time)"),
            _("Check-in source"),
            _("Checked out (Beijing time)"),
            _("Check-out source"),
            _("Present minutes"),
            _("Credited minutes"),
            _("Points"),
            _("Status"),
            _("From paper"),
        ],
    )
    rows = services.attendances(db, activity)
    reversed_ids = awards.reversed_attendances(db, activity.tenant_id, [a.id for a in rows if a.status in REVIEWED])
    for a in rows:
        append_text_row(
            ws,
            [
                a.member.name,
                a.member.mobile_masked,
                beijing(a.checked_in_at),
                str(SOURCE_LABELS.get(a.checkin_source, a.checkin_source)),
                beijing(a.checked_out_at),
                str(SOURCE_LABELS.get(a.checkout_source, a.checkout_source)) if a.checkout_source else "",
                a.present_minutes,
                a.credited_minutes,
                a.points,
                str(POINTS_REVERSED if a.id in reversed_ids else ATTENDANCE_STATUS_LABELS.get(a.status, a.status)),
                _("Yes") if a.paper else "",
            ],
        )
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return send_file(
        out,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"attendance-{activity.id}.xlsx",
    )


# --- the scan page ---------------------------------------------------------------------------------------


def _seen_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="activities.scan-seen")


def _seen_at(token: str) -> datetime | None:
    """When this code was first opened before signing in (carried, signed, in the URL: signing in starts
    a fresh session), if that was at most 10 minutes ago."""
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
    return _render("activities/scan_result.html", e.status, ok=False, message=e.message, token=token)


def scan_enter():
    """Where a volunteer types the code shown under the QR code (a camera that will not scan, a code read
    out): GET with ?code= goes to that code's scan page; it changes nothing."""
    code = re.sub(r"\s+", "", request.args.get("code") or "").upper()[:120]
    if code:
        return redirect(url_for("activities.scan_page", token=code))
    return _render("activities/scan_enter.html")


def scan_page(token: str):
    """GET shows what the code is for (and, with JavaScript, sends the form at once); it changes nothing."""
    if not current_user.is_authenticated:
        seen = None
        try:
            services.read_scan_token(token)
            seen = _seen_signer().dumps({"token": token, "t": int(time.time())})
        except TokenInvalid:
            pass  # not a genuine code now: nothing to remember; after sign-in the page says why
        flash(_("Sign in to record your check-in; the scan is kept for 10 minutes."), "info")
        return redirect(url_for("auth.signin", next=url_for("activities.scan_page", token=token, seen=seen)))
    db = get_session()
    seen_at = _seen_at(token)
    try:
        activity_id, direction, source, _t = services.read_scan_token(
            token, current_user.tenant_id, seen_at.timestamp() if seen_at else None
        )
        activity = services.get_activity(db, current_user.tenant_id, activity_id)
    except AppError as e:
        return _scan_error(e, token)
    return _render(
        "activities/scan.html",
        activity=activity,
        direction=direction,
        source=source,
        form=ScanForm(formdata=None),
        action=request.full_path.rstrip("?"),
    )


@login_required
def scan_record(token: str):
    db = get_session()
    form = ScanForm()
    if not form.validate_on_submit():
        # Not back to the page that sends itself: without cookies that would loop. Say what to do.
        return _render(
            "activities/scan_result.html",
            400,
            ok=False,
            message=_("The form expired. Scan the code again."),
            token=token,
        )
    try:
        result = services.scan_member(
            db,
            current_user.tenant_id,
            current_user.member_id,
            token,
            lat=coordinate(form.lat.data),
            lng=coordinate(form.lng.data),
            seen_at=_seen_at(token),
        )
    except AppError as e:
        if isinstance(e, errors.OutsideRadius):
            keep_changes_on_error()  # the refused scan stays in the scan log
        return _scan_error(e, token)
    return _render("activities/scan_result.html", ok=True, result=result, activity=result.activity)
