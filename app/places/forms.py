"""Forms for creating, renaming and moving org units."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.forms import ConfirmForm, Form, choices
from app.places.fields import UnitPickField

from .labels import GRID_TYPE_LABELS, KIND_LABELS


class UnitForm(Form):
    name = StringField(_l("Unit name"), validators=[DataRequired(_l("Enter a name.")), Length(max=100)])
    kind = SelectField(_l("Kind"), choices=choices(KIND_LABELS.items()))
    grid_type = SelectField(
        _l("Grid type"), choices=choices([("", "—"), *GRID_TYPE_LABELS.items()]), validators=[Optional()]
    )


class RenameForm(Form):
    # Ids of its own: the unit's page also holds the add-below form, whose fields are "name" and "grid_type".
    name = StringField(
        _l("Unit name"), validators=[DataRequired(_l("Enter a name.")), Length(max=100)], id="rename-name"
    )
    grid_type = SelectField(
        _l("Grid type"),
        choices=choices([("", "—"), *GRID_TYPE_LABELS.items()]),
        validators=[Optional()],
        id="rename-grid_type",
    )


class MoveForm(Form):
    parent_id = UnitPickField(
        _l("New parent unit"),
        action="org.edit",
        kinds=("street", "community", "grid"),
        required_message=_l("Type part of the new parent unit's name and choose it."),
    )


__all__ = ["ConfirmForm", "MoveForm", "RenameForm", "UnitForm"]
