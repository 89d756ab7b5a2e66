"""The gridreports area's forms."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from sqlalchemy import true
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional

from app.db import get_session
from app.forms import Form, choices
from app.places.fields import UnitPickField
from app.places.models import OrgUnit

from .labels import CATEGORY_LABELS, MAX_TEXT


class GridPickField(UnitPickField):
    """Pick any active grid of the member's own district by typing part of its name. Grid names are no
    secret and every member may report in any grid, so unlike UnitPickField no permission limits the
    choice (the district always does)."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("kinds", ("grid",))
        super().__init__(label, validators, **kwargs)

    def search_url(self) -> str:
        return url_for("gridreports.pick_grid")

    def _context(self):
        from flask_login import current_user

        return get_session(), current_user, true()

    def _as_unit(self, value):
        from flask_login import current_user

        if value is None or not isinstance(value, int):
            return value
        unit = get_session().get(OrgUnit, value)
        return unit if unit is not None and unit.tenant_id == current_user.tenant_id else None

    def _allowed(self, session, principal, unit_id: int):
        unit = session.get(OrgUnit, unit_id)
        if unit is None or unit.tenant_id != principal.tenant_id or unit.retired_at is not None:
            return None
        return unit if unit.kind == "grid" else None


class ReportForm(Form):
    category = RadioField(
        _l("What kind of problem?"),
        choices=choices(CATEGORY_LABELS.items()),
        validators=[InputRequired(_l("Choose what kind of problem it is."))],
    )
    text = TextAreaField(
        _l("What and where"),
        validators=[
            InputRequired(_l("Say what the problem is and where (at least 5 characters).")),
            Length(min=5, message=_l("Say what the problem is and where (at least 5 characters).")),
            Length(max=MAX_TEXT, message=_l("The description may have at most 1000 characters.")),
        ],
    )
    grid = GridPickField(_l("Grid"), required=False)
    photos = MultipleFileField(_l("Photos (up to 3)"))
    lat = HiddenField()
    lng = HiddenField()


class TriageForm(Form):
    decision = StringField(validators=[AnyOf(("verify", "reject", "duplicate"))])
    reason = StringField(_l("Reason (the reporter reads it)"), validators=[Optional(), Length(max=200)])
    duplicate_of = SelectField(_l("Same problem as report"), coerce=int, validators=[Optional()], validate_choice=False)
    confirm = HiddenField()


class SettingsForm(Form):
    triage_days = IntegerField(
        _l("Days a report may wait before it is overdue"),
        validators=[
            InputRequired(_l("Give the number of days.")),
            NumberRange(1, 60, _l("Give a number of days from 1 to 60.")),
        ],
    )
    points_per_report = IntegerField(
        _l("Points per verified report"),
        validators=[
            InputRequired(_l("Give the points.")),
            NumberRange(0, 1000, _l("Points must be a whole number from 0 to 1,000.")),
        ],
    )
    monthly_cap = IntegerField(_l("Most report points a month (empty: no cap)"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class SummaryForm(Form):
    class Meta:
        csrf = False

    unit = UnitPickField(
        _l("Street, community or grid"), action="gridreport.view", kinds=("street", "community", "grid")
    )
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
