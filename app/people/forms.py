"""Member and assignment forms. Field rules live in schemas.MemberIn; these add CSRF and rendering."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.forms import ConfirmForm, Form, choices
from app.places.fields import UnitPickField

from .labels import STATUS_LABELS

STATUS_CHOICES = list(STATUS_LABELS.items())
ROLE_CHOICES = [
    ("party_member", _l("Responsible party member (包格联户)")),
    ("grid_worker", _l("Grid worker")),
    ("building_head", _l("Building head")),
]


class MemberForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the member's real name.")), Length(max=64)])
    mobile = StringField(
        _l("Mobile number"), validators=[DataRequired(_l("Enter a mobile number."))], render_kw={"inputmode": "numeric"}
    )
    id_number = StringField(
        _l("ID number (身份证, optional)"), validators=[Optional(), Length(max=18)], render_kw={"autocomplete": "off"}
    )
    grid_id = UnitPickField(
        _l("Residence grid"),
        action="member.edit",
        kinds=("grid", "building"),
        required_message=_l("Type part of the name of the grid the member lives in, and choose it."),
    )
    status = SelectField(_l("Status"), choices=choices(STATUS_CHOICES))
    is_volunteer = BooleanField(_l("Volunteer"), default=True)
    is_party_member = BooleanField(_l("Party member"))
    party_org = StringField(_l("Party organisation (党组织)"), validators=[Optional(), Length(max=100)])
    checkin_community_id = UnitPickField(
        _l("Check-in (报到) community"), action="org.view", kinds=("community",), required=False
    )
    is_grid_worker = BooleanField(_l("Grid worker (网格员)"))
    is_building_head = BooleanField(_l("Building head (楼栋长)"))


class AssignmentForm(Form):
    org_unit_id = UnitPickField(
        _l("Grid"),
        action="assignment.edit",
        kinds=("grid", "building"),
        required_message=_l("Type part of the grid's name and choose it."),
    )
    role = SelectField(_l("Responsibility"), choices=choices(ROLE_CHOICES))
    households = IntegerField(
        _l("Households"), validators=[Optional(), NumberRange(min=0, message=_l("Households cannot be fewer than 0."))]
    )
    effective_from = DateField(_l("From"), validators=[DataRequired(_l("Choose the day the assignment starts."))])


class EndAssignmentForm(ConfirmForm):
    effective_to = DateField(_l("Until"), validators=[DataRequired(_l("Choose the day the assignment ends."))])


class GrantForm(Form):
    """Two steps: the choice, then (with confirm=yes, from templates/confirm.html) the grant."""

    # Own ids (the names stay): the member's page holds the assignment form too, whose fields share names.
    role = SelectField(_l("Role"), validators=[DataRequired(message=_l("Choose the role to grant."))], id="grant-role")
    confirm = HiddenField(id="grant-confirm")
    org_unit_id = UnitPickField(
        _l("Scope (for organiser and grid administrator)"),
        action="role.grant",
        kinds=("street", "community", "grid", "building"),
        required=False,
        id="grant-org_unit_id",
    )
