"""Forms for creating, renaming and moving org units."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.forms import ConfirmForm, choices
from app.places.fields import UnitPickField

from .labels import GRID_TYPE_LABELS, KIND_LABELS


class UnitForm(FlaskForm):
    name = StringField(_l("Unit name"), validators=[DataRequired(_l("Enter a name.")), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS.items()))
    grid_type = SelectField(
        _l("Grid type"), choices=choices([("", "—"), *GRID_TYPE_LABELS.items()]), validators=[Optional()]
    )


class RenameForm(FlaskForm):
    name = StringField(_l("Unit name"), validators=[DataRequired(_l("Enter a name.")), Length(max=100)])
    grid_type = SelectField(
        _l("Grid type"), choices=choices([("", "—"), *GRID_TYPE_LABELS.items()]), validators=[Optional()]
    )


class MoveForm(FlaskForm):
    parent_id = UnitPickField(
        _l("New parent unit"),
        action="org.edit",
        kinds=("street", "community", "grid"),
        required_message=_l("Type part of the new parent unit's name and choose it."),
    )


__all__ = ["ConfirmForm", "MoveForm", "RenameForm", "UnitForm"]
