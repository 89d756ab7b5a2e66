"""Volunteers' pages: upcoming activities (nearest first, with filters), an activity's page with sign-up
and cancellation, my points, my activities; and the volunteer's panel on the home page."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.access import can
from app.db import get_session, utcnow
from app.errors import AppError
from app.forms import ConfirmForm
from app.notices import services as notices
from app.notices.channels import render as render_notice
from app.pagination import paginate
from app.people.services import get_member
from app.points import awards
from app.points import services as points
from app.points.labels import CATEGORIES, CATEGORY_LABELS
from app.points.lots import expiring_soon
from app.times import to_utc
from app.validation import BadArgument, date_arg, int_arg

from . import services, volunteering
from .labels import (
    ADJUSTED,
    ATTENDANCE_STATUS_LABELS,
    CANCELLED,
    CONFIRMED,
    ELIGIBILITY_LABELS,
    POINTS_REVERSED,
    PUBLISHED,
    REJECTED,
    SIGNUP_STATUS_LABELS,
    WAITLISTED,
)

PAGE_SIZE = 20
POINTS_STEP = 20  # history lines shown, then "more" adds as many again
POINTS_MAX = 1000


def hours_text(minutes: int | None) -> str:
    """Minutes as hours for people: 150 → "2.5", 120 → "2"."""
    if not minutes:
        return "0"
    return str(minutes // 60) if minutes % 60 == 0 else f"{minutes / 60:.1f}".rstrip("0").rstrip(".")


def _me():
    return get_member(get_session(), current_user.tenant_id, current_user.member_id)


def _browse_from_args(communities) -> tuple[services.Browse, list[str]]:
    """The filters from the query string; a bad value is dropped with a message saying what to fix."""
    problems: list[str] = []
    browse = services.Browse(q=(request.args.get("q") or "").strip()[:100])
    for name, attr, shift in (("from", "day_from", 0), ("to", "day_to", 1)):
        try:
            day = date_arg(request.args, name)
        except BadArgument as e:
            problems.append(e.message)
            continue
        if day is not None:
            setattr(browse, attr, to_utc(datetime.combine(day, time()) + timedelta(days=shift)))
    category = request.args.get("category") or ""
    if category in CATEGORIES:
        browse.category = category
    elif category:
        problems.append(_("Choose one of the listed categories."))
    try:
        community_id = int_arg(request.args, "community")
    except BadArgument as e:
        problems.append(e.message)
        community_id = None
    if community_id is not None:
        if any(c.id == community_id for c in communities):
            browse.community_id = community_id
        else:
            problems.append(_("Choose one of the listed communities."))
    browse.places_left = request.args.get("open") == "1"
    return browse, problems


@login_required
def browse():
    db = get_session()
    member = _me()
    communities = volunteering.communities(db, member.tenant_id)
    filters, problems = _browse_from_args(communities)
    page = paginate(db, services.upcoming_query(member.tenant_id, member, filters), size=PAGE_SIZE)
    mine = volunteering.signups_of(db, member.id, [a.id for a in page.items])
    return render_template(
        "activities/browse.html",
        page=page,
        mine=mine,
        problems=problems,
        communities=communities,
        CATEGORY_LABELS=CATEGORY_LABELS,
        args=request.args,
        CONFIRMED=CONFIRMED,
        WAITLISTED=WAITLISTED,
    )


def _activity_page(activity):
    db = get_session()
    member = _me()
    signup = volunteering.signups_of(db, member.id, [activity.id]).get(activity.id)
    now = utcnow()
    who = str(ELIGIBILITY_LABELS.get(activity.eligibility, activity.eligibility))
    if activity.eligibility == "community" and activity.eligible_unit is not None:
        who = _("Residents of %(unit)s", unit=activity.eligible_unit.name)
    problem = services.eligibility_problem(activity, member) if signup is None else None
    open_ = (
        activity.status == PUBLISHED
        and activity.ends_at > now
        and not (activity.signup_closes_at and activity.signup_closes_at <= now)
    )
    return render_template(
        "activities/activity.html",
        activity=activity,
        signup=signup,
        position=volunteering.waiting_position(db, signup) if signup is not None else None,
        who=who,
        problem=problem,
        signup_open=open_,
        not_yet=activity.signup_opens_at is not None and activity.signup_opens_at > now,
        category=CATEGORY_LABELS.get(activity.category, activity.category),
        form=ConfirmForm(),
        CANCELLED=CANCELLED,
        CONFIRMED=CONFIRMED,
        WAITLISTED=WAITLISTED,
        SIGNUP_STATUS_LABELS=SIGNUP_STATUS_LABELS,
    )


def _activity(activity_id: int):
    # Organisers and admins who may see the activity's unit also see its draft.
    return volunteering.activity_for_member(
        get_session(),
        current_user.tenant_id,
        activity_id,
        see_drafts=lambda a: can(current_user, "activity.view", a),
    )


@login_required
def activity_page(activity_id: int):
    return _activity_page(_activity(activity_id))


@login_required
def sign_up(activity_id: int):
    activity = _activity(activity_id)  # the POST carries the CSRF token (checked for every form)
    try:
        signup = services.sign_up(get_session(), activity.id, _me())
    except AppError as e:
        # not_eligible, signup_closed, activity_full, already_signed_up, not_open: say why, on the page
        flash(e.message, "error")
        return redirect(url_for("activities.activity_page", activity_id=activity.id))
    if signup.status == CONFIRMED:
        flash(_("You are signed up. See you there!"), "success")
    else:
        flash(_("The activity is full: you are on the waiting list and will be told if a place comes free."), "success")
    return redirect(url_for("activities.activity_page", activity_id=activity.id))


@login_required
def cancel_signup(activity_id: int):
    activity = _activity(activity_id)
    back = url_for("activities.activity_page", activity_id=activity.id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            services.cancel_signup(get_session(), activity.id, _me())
        except AppError as e:
            flash(e.message, "error")
            return redirect(back)
        flash(_("Your sign-up is cancelled."), "success")
        return redirect(back)
    return render_template(
        "confirm.html",
        form=form,
        title=_("Cancel your sign-up?"),
        question=_("You will no longer be signed up for “%(title)s”.", title=activity.title),
        consequence=_(
            "Your place goes to the next person on the waiting list. You may sign up again later if places are left."
        ),
        action=url_for("activities.cancel_signup", activity_id=activity.id),
        button=_("Cancel my sign-up"),
        back=back,
    )


def points_lines(db, member_id: int, lines) -> list[dict]:
    """A member's points lines in words: what, how long, how much, and its state."""
    adjusted = volunteering.credited_minutes(db, member_id, [ln.attendance_id for ln in lines if ln.phase == "post"])
    cuts = volunteering.points_cut(db, member_id, [ln.attendance_id for ln in lines if ln.phase == "post"])
    # A hold whose review is also listed (the approval or refusal, newer) is left out: the review's line
    # says it all, and a hold beside its posting read as twice the points (a walk-through, twice). A
    # refusal shows the points that were held, struck through, "not approved" (not as points taken).
    decided = {ln.attendance_id for ln in lines if ln.phase in ("post", "void") and ln.attendance_id is not None}
    out = []
    for ln in lines:
        minutes = adjusted.get(ln.attendance_id, ln.minutes) if ln.phase == "post" else ln.minutes
        if ln.phase == "pending":
            if ln.attendance_id is not None and ln.attendance_id in decided:
                continue
            state, amount = "pending", ln.pending_amount
        elif ln.phase == "void":
            state, amount = "void", abs(ln.pending_amount)
        else:
            state, amount = "posted", ln.amount
        out.append(
            {
                "time": ln.time,
                "title": ln.title,
                "hours": hours_text(minutes) if minutes is not None else None,
                "amount": amount,
                "state": state,
                "activity_id": ln.activity_id,
                "cut": cuts.get(ln.attendance_id, 0) if ln.phase == "post" else 0,  # what a cap held back
            }
        )
    return out


@login_required
def my_points():
    db = get_session()
    raw = (request.args.get("n") or "").strip()
    n = int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 6 else POINTS_STEP
    n = max(POINTS_STEP, min(n, POINTS_MAX))
    summary = points.member_points(db, current_user.tenant_id, current_user.member_id, limit=n + 1)
    lines = points_lines(db, current_user.member_id, summary.lines[:n])
    more = len(summary.lines) > n and n < POINTS_MAX
    expiring = expiring_soon(db, current_user.tenant_id, current_user.member_id, utcnow())
    return render_template(
        "activities/my_points.html",
        summary=summary,
        lines=lines,
        more_n=n + POINTS_STEP if more else None,
        expiring=expiring,
    )


@login_required
def my_activities():
    db = get_session()
    upcoming = volunteering.my_upcoming(db, current_user.tenant_id, current_user.member_id, limit=100)
    page = paginate(db, volunteering.my_attendances_query(current_user.tenant_id, current_user.member_id), size=20)
    reversed_ids = awards.reversed_attendances(db, current_user.tenant_id, [a.id for a in page.items])
    return render_template(
        "activities/my_activities.html",
        upcoming=upcoming,
        page=page,
        reversed_ids=reversed_ids,
        POINTS_REVERSED=POINTS_REVERSED,
        hours_text=hours_text,
        ATTENDANCE_STATUS_LABELS=ATTENDANCE_STATUS_LABELS,
        SIGNUP_STATUS_LABELS=SIGNUP_STATUS_LABELS,
        ADJUSTED=ADJUSTED,
        REJECTED=REJECTED,
        WAITLISTED=WAITLISTED,
    )


def home_panel() -> dict | None:
    """The volunteer's panel on the home page (registered in the area's setup): points, the next
    activities they signed up for, recent history and unread notices."""
    if not current_user.is_authenticated or current_user.member_id is None:
        return None
    db = get_session()
    t, m = current_user.tenant_id, current_user.member_id
    summary = points.member_points(db, t, m, limit=5)
    unread = notices.unread_count(db, t, m)
    latest = [n for n in notices.notices_of(db, t, m, limit=3) if n.read_at is None] if unread else []
    return {
        "summary": summary,
        "lines": points_lines(db, m, summary.lines),
        "upcoming": volunteering.my_upcoming(db, t, m, limit=3),
        "unread": unread,
        "latest_notices": [(n, render_notice(n.kind, n.params or {})) for n in latest],
        "WAITLISTED": WAITLISTED,
        "expiring": expiring_soon(db, t, m, utcnow()),
    }
