"""The outlet pages' forms: an outlet, its staff, a catalogue item, a price change, the catalogue import,
and the choice of date for reports. Stock pages read their per-item quantities from the posted form
(qty-<item id>, counted-<item id>) because their rows are the outlet's items (stock_views.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.forms import Form, choices
from app.places.fields import UnitPickField

from . import OUTLET_STAFF, OUTLET_SUPERVISOR
from .labels import ITEM_KIND_LABELS, LIMIT_PERIOD_LABELS, WRITE_OFF_REASON_LABELS

OUTLET_KINDS = ("community", "street")


class OutletForm(Form):
    unit = UnitPickField(_l("Community or street"), action="outlet.edit", kinds=OUTLET_KINDS)
    name = StringField(_l("Outlet name"), validators=[InputRequired(_l("Give the outlet a name.")), Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    opening_hours = StringField(_l("Opening hours"), validators=[Optional(), Length(max=200)])
    active = BooleanField(_l("Open (redeems and takes stock)"), default=True)


class StaffForm(Form):
    member_id = StringField(validators=[InputRequired(_l("Find the person and choose them."))])
    role = SelectField(
        _l("Role"),
        choices=choices([(OUTLET_STAFF, _l("Outlet staff")), (OUTLET_SUPERVISOR, _l("Outlet supervisor"))]),
        default=OUTLET_STAFF,
    )


def _period_choices():
    return choices([("", _l("No limit"))] + list(LIMIT_PERIOD_LABELS.items()))


class ItemForm(Form):
    name = StringField(_l("Item name"), validators=[InputRequired(_l("Give the item a name.")), Length(max=100)])
    category = StringField(_l("Category"), validators=[Optional(), Length(max=50)])
    kind = SelectField(_l("Goods or service"), choices=choices(ITEM_KIND_LABELS.items()), default="goods")
    unit_name = StringField(_l("Unit (袋, 瓶, 次)"), validators=[Optional(), Length(max=16)])
    points = IntegerField(
        _l("Price in points"),
        validators=[
            InputRequired(_l("Give the price as a whole number of points.")),
            NumberRange(1, 100_000, _l("A price must be from 1 to 100,000 points.")),
        ],
    )
    value_yuan = StringField(
        _l("Worth per piece, in yuan (for the stock value)"), validators=[Optional(), Length(max=12)]
    )
    limit_qty = IntegerField(
        _l("Limit per member"),
        validators=[Optional(), NumberRange(1, 10_000, _l("A limit must be from 1 to 10,000 pieces."))],
    )
    limit_period = SelectField(_l("Limit period"), choices=_period_choices(), default="")
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    active = BooleanField(_l("In the catalogue (offered)"), default=True)
    photo = FileField(_l("Photo"))


class PriceForm(Form):
    points = IntegerField(
        _l("New price in points"),
        validators=[
            InputRequired(_l("Give the price as a whole number of points.")),
            NumberRange(1, 100_000, _l("A price must be from 1 to 100,000 points.")),
        ],
    )
    reason = StringField(_l("Why it changes"), validators=[Optional(), Length(max=200)])


class ImportForm(Form):
    file = FileField(_l("Catalogue file (.xlsx)"))


class MovementForm(Form):
    """Receiving, transferring or writing off: the lines come as qty-<item id> fields."""

    donor = StringField(_l("Donor (爱心企业 or person)"), validators=[Optional(), Length(max=100)])
    supplier = StringField(_l("Bought from"), validators=[Optional(), Length(max=100)])
    value_yuan = StringField(_l("Estimated value in yuan"), validators=[Optional(), Length(max=14)])
    to_outlet = StringField(_l("To outlet"), validators=[Optional(), Length(max=100)])
    reason = SelectField(_l("Reason"), choices=choices(WRITE_OFF_REASON_LABELS.items()), default="damaged")
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class CountForm(Form):
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class DateForm(Form):
    class Meta:
        csrf = False

    at = DateField(_l("Date"), validators=[Optional()])


class SettingsForm(Form):
    """The district's outlet settings (district administrators: `outlet.settings.edit`)."""

    refund_days = IntegerField(
        _l("Refunds allowed for (days after the redemption; 0: no refunds)"),
        validators=[
            InputRequired(_l("Give a number of days.")),
            NumberRange(0, 365, _l("The refund period must be from 0 to 365 days.")),
        ],
    )
