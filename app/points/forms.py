"""Forms of the points area's pages: a new version of a points rule."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.forms import Form, choices

from .expiry import MODE_LABELS
from .labels import CATEGORY_LABELS, MISSED_CHECKOUT_LABELS


class RuleForm(Form):
    category = SelectField(_l("Applies to"))
    points_per_hour = IntegerField(_l("Points per hour"), validators=[InputRequired(_l("Enter the points per hour."))])
    rounding_minutes = IntegerField(
        _l("Rounding unit (minutes)"), validators=[InputRequired(_l("Enter the rounding unit."))]
    )
    presence_percent = IntegerField(
        _l("Presence threshold (%)"), validators=[InputRequired(_l("Enter the presence threshold."))]
    )
    missed_checkout = SelectField(_l("A missed check-out earns"), choices=choices(MISSED_CHECKOUT_LABELS.items()))
    grace_minutes = IntegerField(
        _l("Grace period (minutes)"), validators=[InputRequired(_l("Enter the grace period."))]
    )
    effective_from = DateTimeLocalField(
        _l("Takes effect (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why the rule changes.")), Length(max=200)])
    # Caps (issue 9): empty = no cap.
    max_minutes_per_activity = IntegerField(_l("At most minutes credited per activity"), validators=[Optional()])
    daily_points_cap = IntegerField(_l("At most points of hours per member per day"), validators=[Optional()])
    monthly_points_cap = IntegerField(_l("At most points of hours per member per month"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = choices(
            [("", _l("Default: every category without its own rule")), *CATEGORY_LABELS.items()]
        )


class ExpiryForm(Form):
    """A new version of the district's expiry setting (app/points/lots.change_expiry)."""

    mode = SelectField(_l("Points expire"))
    months = IntegerField(_l("Months (N)"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why the setting changes.")), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mode.choices = choices(MODE_LABELS.items())
