"""The form that asks for a certificate: the period and, for admins, the issuing organisation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField
from wtforms.validators import DataRequired

from app.forms import Form
from app.places.fields import UnitPickField


class CertificateForm(Form):
    period_from = DateField(_l("From"), validators=[DataRequired(_l("Enter the first day of the period."))])
    period_to = DateField(_l("To"), validators=[DataRequired(_l("Enter the last day of the period."))])
    issuer_unit_id = UnitPickField(
        _l("Issuing organisation (leave empty for the district)"),
        action="certificate.issue",
        kinds=("street", "community"),
        required=False,
    )
