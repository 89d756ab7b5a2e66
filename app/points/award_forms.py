"""Forms of the awards pages: the threshold, one member's award, a list upload, and decisions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from app.forms import Form, OnceForm, choices

from .labels import CATEGORY_LABELS

REASON = _l("Say why.")


class ThresholdForm(Form):
    approval_threshold = IntegerField(
        _l("Approval threshold (points, an award's total)"),
        validators=[
            InputRequired(_l("Enter the threshold.")),
            NumberRange(0, 1_000_000, _l("The threshold must be a whole number from 0 to 1,000,000.")),
        ],
    )
    threshold_reason = StringField(_l("Reason"), validators=[DataRequired(REASON), Length(max=200)])


class _AwardFields(Form):
    category = SelectField(_l("Category"))
    reason = StringField(
        _l("Reason for the award"), validators=[DataRequired(_l("Say why the points are awarded.")), Length(max=200)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = choices(CATEGORY_LABELS.items())


class SingleAwardForm(_AwardFields, OnceForm):
    # Picked by typing part of the name (or the mobile's last 4 digits): static/js/pick.js fills
    # member_id from the suggestions; without it the view resolves the typed text.
    member = StringField(
        _l("Member"), validators=[DataRequired(_l("Type part of the member's name and choose them.")), Length(max=64)]
    )
    member_id = HiddenField()
    points = IntegerField(
        _l("Points"),
        validators=[
            InputRequired(_l("Enter the points.")),
            NumberRange(1, 100_000, _l("Points must be a whole number from 1 to 100,000.")),
        ],
    )


class ListUploadForm(_AwardFields):
    file = FileField(_l("Excel (.xlsx) or CSV file"), validators=[FileRequired(_l("Choose a file to upload."))])


class ListConfirmForm(_AwardFields, OnceForm):
    rows = HiddenField()  # signed: the checked rows of the dry run


class DecisionForm(Form):
    decision_reason = StringField(_l("Reason"), validators=[Length(max=200)])
