"""The checkins area's forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional

from app.forms import Form
from app.places.fields import UnitPickField


class SiteEditForm(Form):
    name = StringField(_l("Site name (empty: the unit's name)"), validators=[Optional(), Length(max=100)])
    lat = FloatField(
        _l("Latitude"),
        validators=[Optional(), NumberRange(-90, 90, _l("A latitude is from -90 to 90 (in China about 18 to 54)."))],
    )
    lng = FloatField(
        _l("Longitude"),
        validators=[
            Optional(),
            NumberRange(-180, 180, _l("A longitude is from -180 to 180 (in China about 73 to 135).")),
        ],
    )
    radius_m = IntegerField(_l("Radius in metres (empty: location not checked)"), validators=[Optional()])


class SiteForm(SiteEditForm):
    """A new site: the unit it stands for, then what an edit changes."""

    unit = UnitPickField(_l("Community or area grid"), action="checkin.site.edit", kinds=("community", "grid"))


class SiteCloseForm(Form):
    reason = StringField(
        _l("Why does the site close?"),
        validators=[InputRequired(_l("Say why the site closes; it is kept in the audit log.")), Length(max=200)],
    )


class SiteReopenForm(Form):
    pass


class ScanForm(Form):
    lat = HiddenField()
    lng = HiddenField()


class VisitForm(Form):
    grid = SelectField(_l("Grid"), coerce=int, validators=[InputRequired(_l("Choose one of your grids."))])
    visit_date = DateField(_l("Date of the visits"), validators=[InputRequired(_l("Give the date."))])
    households = IntegerField(
        _l("Households visited"),
        validators=[
            InputRequired(_l("Give the number of households.")),
            NumberRange(1, 200, _l("Households visited must be from 1 to 200.")),
        ],
    )
    note = TextAreaField(_l("Short note"), validators=[Optional(), Length(max=200)])


class DecideForm(Form):
    decision = StringField(validators=[AnyOf(("confirm", "reject"))])
    reason = StringField(_l("Reason (needed to reject)"), validators=[Optional(), Length(max=200)])


class CheckinRuleForm(Form):
    points_per_checkin = IntegerField(
        _l("Points per check-in at the member's own community"),
        validators=[
            InputRequired(_l("Give the points.")),
            NumberRange(0, 1000, _l("Points must be a whole number from 0 to 1,000.")),
        ],
    )
    other_site_points = IntegerField(
        _l("Points per check-in at another community's site"),
        validators=[
            InputRequired(_l("Give the points.")),
            NumberRange(0, 1000, _l("Points must be a whole number from 0 to 1,000.")),
        ],
    )
    monthly_cap = IntegerField(_l("Most check-in points a month (empty: no cap)"), validators=[Optional()])
    effective_from = DateTimeLocalField(
        _l("Takes effect (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    reason = StringField(_l("Reason"), validators=[InputRequired(_l("Say why the rule changes.")), Length(max=200)])
