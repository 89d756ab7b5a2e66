"""The awards pages (/points/awards): the threshold, awarding one member, uploading a list with a dry
run (all or none), the approval queue, the history, and corrections (reversals)."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer

from app.access import require, scopes_for
from app.api.schemas import MAX_ID
from app.audit.names import names_for_users
from app.db import get_session
from app.errors import AppError, Forbidden
from app.forms import already_sent, show_errors, spend_once
from app.spreadsheets import XLSX_MIMETYPE, SpreadsheetError

from . import award_list, awards
from .award_forms import DecisionForm, ListConfirmForm, ListUploadForm, SingleAwardForm, ThresholdForm
from .labels import AWARD_STATUS_LABELS, CATEGORY_LABELS


def _admin(action: str = "points.awards.edit") -> None:
    require(current_user, action)
    if not any(s.path is None for s in scopes_for(current_user, action)):
        raise Forbidden(_("Only a district administrator may award points or correct them."))


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"], salt="award-list-once"
    )  # rows, category, reason and the one-time key


def _user_names(db, ids) -> dict[int, str]:
    people = names_for_users(db, current_user.tenant_id, sorted({i for i in ids if i}))
    return {uid: p.name for uid, p in people.items()}


@login_required
def awards_page():
    _admin("points.awards.view")
    db = get_session()
    tenant = current_user.tenant_id
    single = SingleAwardForm(prefix="one")
    limit = ThresholdForm(prefix="t")
    status = 200
    if request.method == "POST":
        _admin()
        which = request.form.get("form")
        if which == "threshold" and limit.validate():
            try:
                awards.set_threshold(
                    db,
                    tenant,
                    limit.approval_threshold.data or 0,
                    reason=limit.threshold_reason.data or "",
                    actor_user_id=current_user.user_id,
                )
                flash(_("The approval threshold is saved."), "success")
                return redirect(url_for("points.awards_page"))
            except AppError as e:
                show_errors(limit, e)
        elif which == "single" and single.validate():
            found = _picked_member(db, tenant, single)
            if found is not None and not spend_once(db, single):
                flash(already_sent(), "error")
                return redirect(url_for("points.awards_page"))
            if found is not None:
                try:
                    award = awards.propose(
                        db,
                        tenant,
                        [awards.AwardItem(found["id"], single.points.data or 0)],
                        category=single.category.data or "",
                        reason=single.reason.data or "",
                        actor_user_id=current_user.user_id,
                        actor_member_id=current_user.member_id,
                    )
                    flash(_posted_text(award), "success")
                    return redirect(url_for("points.award_page", award_id=award.id))
                except AppError as e:
                    show_errors(single, e)
        status = 422
    else:
        limit.approval_threshold.data = awards.threshold(db, tenant)
    pending = awards.awards(db, tenant, status="pending", limit=100)
    history = awards.awards(db, tenant, limit=50)
    names = _user_names(db, [a.proposer_user_id for a in history + pending] + [a.approver_user_id for a in history])
    return (
        render_template(
            "points/awards.html",
            single=single,
            limit=limit,
            threshold=awards.threshold(db, tenant),
            pending=pending,
            history=history,
            names=names,
            CATEGORY_LABELS=CATEGORY_LABELS,
            AWARD_STATUS_LABELS=AWARD_STATUS_LABELS,
        ),
        status,
    )


def _picked_member(db, tenant: int, form: SingleAwardForm) -> dict | None:
    """The member the form names: the one picked from the suggestions (its id, with the text still
    naming them), else the only active member the typed text finds. None with an error on the field
    when nobody or several match (the several are listed to choose from)."""
    text = " ".join((form.member.data or "").split())
    raw = (form.member_id.data or "").strip()
    if raw.isdecimal() and len(raw) < 19:
        card = awards.member_card(db, tenant, int(raw))
        if card is not None and text in (card["name"], _member_label(card)):
            return card
    found = awards.search_members(db, tenant, text, limit=10)
    if raw.isdecimal() and request.form.get(f"{form.member_id.name}-choosing"):
        picked = [c for c in found if str(c["id"]) == raw]  # chosen from the matches the form listed
        if picked:
            return picked[0]
    if len(found) == 1:
        return found[0]
    if not found:
        form.member.errors = [
            _("No active member of this district matches “%(text)s”. Try fewer characters.", text=text)
        ]
    else:
        form.member.errors = [_("Several members match “%(text)s”: choose one.", text=text)]
        form.matches = found
    return None


def _member_label(card: dict) -> str:
    return f"{card['name']} · {card['mobile']} · {card['place']}"


@login_required
def member_search():
    """Suggestions for the award form's member field (static/js/pick.js): active members of the
    district by part of the name or the mobile's last 4 digits; only for those who may award points."""
    _admin()
    found = awards.search_members(get_session(), current_user.tenant_id, request.args.get("q", ""), limit=10)
    return jsonify({"items": [dict(c, label=_member_label(c)) for c in found]})


def _posted_text(award) -> str:
    if award.status == "posted":
        return _("Awarded: %(total)s points to %(n)s members, posted now.", total=award.total, n=award.member_count)
    return _(
        "Proposed: %(total)s points to %(n)s members. Above the threshold of %(limit)s, it waits for another "
        "district administrator to approve it.",
        total=award.total,
        n=award.member_count,
        limit=award.threshold,
    )


@login_required
def award_list_template():
    _admin()
    return Response(
        award_list.template_xlsx(),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": "attachment; filename=award-list.xlsx"},
    )


@login_required
def award_upload_page():
    """Step 1: upload and dry run (every row's problem). Step 2: confirm the checked rows (all or none)."""
    _admin()
    db = get_session()
    tenant = current_user.tenant_id
    check = None
    confirm = None
    status = 200
    if request.method == "POST" and request.form.get("step") == "confirm":
        confirm = ListConfirmForm()
        if confirm.validate():
            try:
                # The checked list is signed with this form's one-time key: it is sent once, as checked.
                rows, category, reason, once = _signer().loads(confirm.rows.data or "")
                if once != confirm.once.data:
                    raise BadSignature("another form's list")
                if not spend_once(db, confirm):
                    flash(already_sent(), "error")
                    return redirect(url_for("points.awards_page"))
                award = awards.propose(
                    db,
                    tenant,
                    [awards.AwardItem(int(m), int(p)) for m, p in rows],
                    category=category,
                    reason=reason,
                    actor_user_id=current_user.user_id,
                    actor_member_id=current_user.member_id,
                )
                flash(_posted_text(award), "success")
                return redirect(url_for("points.award_page", award_id=award.id))
            except (BadSignature, ValueError, TypeError):  # changed, or not the shape this page signs
                confirm.form_errors.append(_("The checked list was changed; upload the file again."))
            except AppError as e:
                show_errors(confirm, e)
        status = 422
        form = ListUploadForm(formdata=None, category=confirm.category.data, reason=confirm.reason.data)
    else:
        form = ListUploadForm()
        if request.method == "POST":
            if form.validate():
                upload = form.file.data
                try:
                    check = award_list.check_list(db, tenant, upload.filename or "", upload.read())
                except SpreadsheetError as e:
                    form.file.errors = [e.message]
                    status = 422
                else:
                    if check.problems:
                        status = 422
                    else:
                        confirm = ListConfirmForm(formdata=None, category=form.category.data, reason=form.reason.data)
                        confirm.rows.data = _signer().dumps(
                            [
                                [[r.member_id, r.points] for r in check.rows],
                                form.category.data or "",
                                form.reason.data or "",
                                confirm.once.data,
                            ]
                        )
            else:
                status = 422
    return (
        render_template(
            "points/award_upload.html",
            form=form,
            check=check,
            confirm=confirm,
            threshold=awards.threshold(db, tenant),
            CATEGORY_LABELS=CATEGORY_LABELS,
        ),
        status,
    )


_ASKS = ("approve", "reject", "reverse")


def _take_back_words(points: int, name: str, what: str) -> tuple[str, str, str, str]:
    """Title, question, consequence and button before points are taken back (an award's line or hours)."""
    return (
        _("Take these points back?"),
        _("Take %(n)d points back from %(name)s (“%(award)s”)?", n=points, name=name, award=what),
        _("A reversal posts the opposite entry and tells the member; it cannot be undone."),
        _("Reverse %(n)s points", n=points),
    )


def _ask(form, words: tuple[str, str, str, str], reason: str, here: str, carried: dict, danger: bool = True):
    """The shared confirmation page (templates/confirm.html), answering back to `here`."""
    title, question, consequence, button = words
    if reason.strip():
        consequence += " " + _("Reason: %(reason)s", reason=reason.strip())
    return render_template(
        "confirm.html",
        form=form,
        title=title,
        question=question,
        consequence=consequence,
        action=here,
        button=button,
        button_class="danger" if danger else "",
        carried=carried,
        back=here,
    )


def _confirm_decision(db, award, action: str, reason: str, line_id: int | None):
    """The question before an award's decision, or None when the line to reverse is not the award's
    (the service then says so)."""
    carried = {"action": action, "decision_reason": reason}
    if action == "reverse":
        line = next((x for x in awards.lines_of(db, award.id) if x.id == line_id), None)
        if line is None:
            return None
        name = awards.member_names(db, award.tenant_id, [line.member_id]).get(line.member_id, "")
        carried["line"] = str(line.id)
        words = _take_back_words(line.points, name, award.reason)
    elif action == "approve":
        words = (
            _("Approve this award?"),
            ngettext(
                "Post %(total)d points to %(num)d member for “%(award)s”?",
                "Post %(total)d points to %(num)d members for “%(award)s”?",
                award.member_count,
                total=award.total,
                award=award.reason,
            ),
            _("The points are posted and the members told at once. An approval cannot be undone."),
            _("Approve and post"),
        )
    else:
        words = (
            _("Reject this award?"),
            _("Reject “%(award)s” (%(total)d points)?", award=award.reason, total=award.total),
            _("Nothing is posted; the proposer sees your reason."),
            _("Reject"),
        )
    here = url_for("points.award_page", award_id=award.id)
    return _ask(DecisionForm(formdata=None), words, reason, here, carried, danger=action != "approve")


@login_required
def award_page(award_id: int):
    """One award: its lines with names; approve or reject it while pending; reverse a posted line."""
    _admin("points.awards.view")
    db = get_session()
    tenant = current_user.tenant_id
    award = awards.get_award(db, tenant, award_id)
    form = DecisionForm()
    status = 200
    if request.method == "POST":
        _admin()
        action = request.form.get("action")
        reason = form.decision_reason.data or ""
        if form.validate():
            # Asks first (none can be undone), once the decision is complete: a rejection or reversal
            # without its reason goes on to the service, which says what is missing.
            if action in _ASKS and request.form.get("confirm") != "yes" and (reason.strip() or action == "approve"):
                confirming = _confirm_decision(db, award, action, reason, request.form.get("line", type=int))
                if confirming is not None:
                    return confirming
            try:
                if action == "approve":
                    awards.approve(
                        db,
                        tenant,
                        award.id,
                        actor_user_id=current_user.user_id,
                        actor_member_id=current_user.member_id,
                        reason=reason,
                    )
                    flash(_("Approved: the points are posted and the members told."), "success")
                elif action == "reject":
                    awards.reject(db, tenant, award.id, actor_user_id=current_user.user_id, reason=reason)
                    flash(_("Rejected: nothing was posted."), "success")
                elif action == "reverse":
                    line_id = request.form.get("line", type=int) or 0
                    awards.reverse_award_line(db, tenant, line_id, reason=reason, actor_user_id=current_user.user_id)
                    flash(_("Reversed: the points are taken back and the member told."), "success")
                return redirect(url_for("points.award_page", award_id=award.id))
            except AppError as e:
                show_errors(form, e)
        status = 422
    lines = awards.lines_of(db, award.id)
    members = awards.member_names(db, tenant, [x.member_id for x in lines])
    names = _user_names(db, [award.proposer_user_id, award.approver_user_id])
    return (
        render_template(
            "points/award.html",
            award=award,
            lines=lines,
            members=members,
            names=names,
            form=form,
            own=award.proposer_user_id == current_user.user_id,
            CATEGORY_LABELS=CATEGORY_LABELS,
            AWARD_STATUS_LABELS=AWARD_STATUS_LABELS,
        ),
        status,
    )


@login_required
def corrections_page():
    """Correct a member's approved hours: find the member by name and mobile, see their posted hours,
    and reverse one with a reason (never an edit). Awards are reversed on the award's page.

    The name and the mobile are sent by POST, never put in an address (an address stays in the
    browser's history and in access logs); the member found is then named by id (`?member=`)."""
    _admin()
    db = get_session()
    tenant = current_user.tenant_id
    form = DecisionForm()
    problem = None
    member = None
    status = 200
    name = (request.form.get("name") or "").strip()
    mobile = (request.form.get("mobile") or "").strip()
    if request.method == "POST" and request.form.get("action") == "find":
        found = awards.lookup_mobiles(db, tenant, [mobile]).get(mobile) if mobile else None
        # The last 4 digits do (pages show mobiles masked): the name picks the member among those.
        same = (
            [c for c in awards.search_members(db, tenant, mobile, limit=500) if c["name"] == name]
            if name and mobile.isascii() and mobile.isdecimal() and len(mobile) == 4
            else []
        )
        if not form.validate():
            problem, status = _("The form expired. Try again."), 400
        elif not name or not mobile:
            problem, status = _("Enter the member's name and their mobile number, or its last 4 digits."), 422
        elif len(same) == 1:
            return redirect(url_for("points.corrections_page", member=same[0]["id"]))
        elif len(same) > 1:
            problem, status = (
                _("Several members named %(name)s have a mobile ending in %(tail)s: type the whole number.",
                  name=name, tail=mobile),
                422,
            )  # fmt: skip
        elif len(mobile) == 4:
            problem, status = (
                _("No active member named %(name)s has a mobile ending in %(tail)s.", name=name, tail=mobile),
                422,
            )
        elif found is None:
            problem, status = _("No active member of this district has this mobile number."), 422
        elif found[1] != name:
            problem, status = _("This mobile number belongs to %(name)s, not to the name given.", name=found[1]), 422
        else:
            return redirect(url_for("points.corrections_page", member=found[0]))
        return _corrections(name, mobile, None, problem, form, status)
    member_id = request.args.get("member", type=int)
    if member_id is not None and 0 < member_id <= MAX_ID:
        found_name = awards.member_names(db, tenant, [member_id]).get(member_id)
        member = (member_id, found_name) if found_name else None
    if member_id is not None and member is None:
        abort(404)
    if request.method == "POST":
        if member is None:
            abort(404)
        reason = (form.decision_reason.data or "").strip()
        attendance = request.form.get("attendance", type=int) or 0
        if form.validate() and reason and request.form.get("confirm") != "yes":  # asks first
            line = next((x for x in awards.posted_hours(db, tenant, member[0]) if x.attendance_id == attendance), None)
            if line is not None and not line.reversed:
                here = url_for("points.corrections_page", member=member[0])
                words = _take_back_words(line.points, member[1], line.title)
                return _ask(form, words, reason, here, {"attendance": str(attendance), "decision_reason": reason})
        if form.validate():
            try:
                taken = awards.reverse_hours(
                    db,
                    tenant,
                    request.form.get("attendance", type=int) or 0,
                    reason=form.decision_reason.data or "",
                    actor_user_id=current_user.user_id,
                )
                flash(_("Reversed: %(n)s points taken back and the member told.", n=taken), "success")
                return redirect(url_for("points.corrections_page", member=member[0]))
            except AppError as e:
                show_errors(form, e)
        status = 422
    return _corrections(name, mobile, member, problem, form, status)


def _corrections(name: str, mobile: str, member, problem, form, status: int):
    lines = awards.posted_hours(get_session(), current_user.tenant_id, member[0]) if member else []
    return (
        render_template(
            "points/corrections.html", name=name, mobile=mobile, member=member, problem=problem, lines=lines, form=form
        ),
        status,
    )
