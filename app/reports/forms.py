"""The report pages' forms (GET, no CSRF: they only choose what to show)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.forms import Form
from app.places.fields import UnitPickField

from .services import REPORT_KINDS

REPORTS = (
    ("party_checkins", _l("Party members’ check-ins by month")),
    ("absent", _l("Party members who have not checked in")),
    ("grid_coverage", _l("Grid coverage (包格联户)")),
)


class PickForm(Form):
    class Meta:
        csrf = False

    unit = UnitPickField(_l("Street, community or grid"), action="report.view", kinds=REPORT_KINDS)
