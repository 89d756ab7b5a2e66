"""Forms of the activities area's pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.forms import Form, InYears, choices
from app.people.labels import TAGS
from app.places.fields import UnitPickField
from app.points.labels import CATEGORY_LABELS

from .labels import ELIGIBILITY_LABELS
from .schemas import MAX_YEAR, MIN_YEAR

# --- organisers' pages (organiser_views) ------------------------------------------------------------------

TAG_LABELS = {
    "volunteer": _l("Volunteer"),
    "party_member": _l("Party member"),
    "grid_worker": _l("Grid worker (网格员)"),
    "building_head": _l("Building head (楼栋长)"),
}
WHEN = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends (Beijing time)
YEARS = InYears(MIN_YEAR, MAX_YEAR)  # as the API (schemas.py)


class ActivityForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the activity a title.")), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    category = SelectField(_l("Category"), choices=choices(CATEGORY_LABELS.items()))
    host_unit_id = UnitPickField(_l("Host unit"), action="activity.edit")
    place = StringField(_l("Place"), validators=[DataRequired(_l("Say where it takes place.")), Length(max=200)])
    lat = FloatField(_l("Latitude"), validators=[Optional()])
    lng = FloatField(_l("Longitude"), validators=[Optional()])
    radius_m = IntegerField(_l("Radius for scans (metres)"), validators=[Optional()])
    starts_at = DateTimeLocalField(
        _l("Starts (Beijing time)"), format=WHEN, validators=[InputRequired(_l("Enter the start time.")), YEARS]
    )
    ends_at = DateTimeLocalField(
        _l("Ends (Beijing time)"), format=WHEN, validators=[InputRequired(_l("Enter the end time.")), YEARS]
    )
    capacity = IntegerField(
        _l("Places"),
        validators=[
            InputRequired(_l("Enter how many may sign up.")),
            NumberRange(1, 100_000, _l("Places must be a whole number from 1 to 100,000.")),
        ],
        default=20,
    )
    signup_opens_at = DateTimeLocalField(_l("Sign-up opens (optional)"), format=WHEN, validators=[Optional(), YEARS])
    signup_closes_at = DateTimeLocalField(_l("Sign-up closes (optional)"), format=WHEN, validators=[Optional(), YEARS])
    eligibility = SelectField(_l("Who may join"), choices=choices(ELIGIBILITY_LABELS.items()), default="district")
    eligible_unit_id = UnitPickField(
        _l("Community (when only its residents may join)"), action="org.view", kinds=["community"], required=False
    )
    eligible_tag = SelectField(_l("Tag (when only members with a tag may join)"), validators=[Optional()])
    walk_ins = BooleanField(_l("People who did not sign up may check in (walk-ins)"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.eligible_tag.choices = choices([("", "—"), *((t, str(TAG_LABELS[t])) for t in TAGS)])


class CancelActivityForm(Form):
    confirm = HiddenField()
    reason = TextAreaField(
        _l("Reason (the volunteers signed up will read it)"),
        validators=[DataRequired(_l("Say why the activity is cancelled.")), Length(max=200)],
    )


class ByHandForm(Form):
    member_id = HiddenField(validators=[DataRequired(_l("Find the person and choose them."))])
    direction = SelectField(
        _l("Record"), choices=choices([("in", _l("Check-in")), ("out", _l("Check-out"))]), default="in"
    )
    at = DateTimeLocalField(
        _l("Time (Beijing time)"), format=WHEN, validators=[InputRequired(_l("Enter the time.")), YEARS]
    )
    reason = StringField(
        _l("Reason"), validators=[DataRequired(_l("Say why you record this by hand.")), Length(max=200)]
    )


class PaperForm(Form):
    member_id = HiddenField(validators=[DataRequired(_l("Find the person and choose them."))])
    checked_in_at = DateTimeLocalField(
        _l("Checked in (Beijing time)"), format=WHEN, validators=[InputRequired(_l("Enter the check-in time.")), YEARS]
    )
    checked_out_at = DateTimeLocalField(
        _l("Checked out (Beijing time)"),
        format=WHEN,
        validators=[InputRequired(_l("Enter the check-out time.")), YEARS],
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)], default="")


class ScanForm(Form):
    lat = HiddenField()
    lng = HiddenField()


class ReviewForm(Form):
    """The review queue's form: only its CSRF token is a field; the rows' choices are read by the view."""
