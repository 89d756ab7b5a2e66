"""The field that picks an org unit by typing part of its name (every area's place fields use it)."""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import Field
from wtforms.utils import unset_value
from wtforms.validators import StopValidation

from app.access import can, path_filter
from app.db import get_session

from .labels import GRID_TYPE_LABELS, KIND_LABELS
from .models import OrgUnit
from .services import path_label, path_labels, resolve_unit


class UnitPickField(Field):
    """Pick an org unit by typing part of its name, never by its number.

    It renders (macro `unit_pick` in _macros.html) as a text input `<name>-text` holding the unit's
    path ("凤凰街道 › 塘家社区 › 第1网格") and a hidden `<name>` holding its id. With JavaScript
    (static/js/pick.js) suggestions come from /org/pick as you type and the pick fills the id.
    Without it the server resolves the typed text when the form is posted: exactly one unit the user may
    choose → that unit; several → the form comes back with them to choose from (`matches`, shown as
    radio buttons of the same name, with `<name>-choosing`); none → an error on the field. A posted id
    counts when the text is its path or name (a pick, or the value the form started with) or it is one
    of the matches shown; else the text decides (a stale id left by typing another name without the
    script). An id the user may not choose is never a 404 here: it is ignored.

    `action` is the permission the user needs on the unit (its scope limits the search), `kinds` the
    unit kinds that fit. `data` is the chosen OrgUnit (or None); `unit_id` its id.
    """

    def __init__(
        self,
        label=None,
        validators=None,
        *,
        action: str = "org.view",
        kinds=None,
        required: bool = True,
        required_message=None,
        **kwargs,
    ):
        super().__init__(label, validators, **kwargs)
        self.action = action
        self.kinds = tuple(kinds) if kinds else None
        self.is_required = required
        self.required_message = required_message or _l("Type part of the name and choose one.")
        self.exclude_path: str | None = None  # a unit being moved: not into its own subtree
        self.exclude_id: int | None = None
        self.text = ""
        self.matches: list = []
        self.match_labels: dict[int, str] = {}
        self.posted_id: int | None = None

    # --- data in --------------------------------------------------------------------------------
    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.matches = []
        if formdata is not None and (self.name in formdata or f"{self.name}-text" in formdata):
            self.text = " ".join((formdata.get(f"{self.name}-text") or "").split())
            raw = formdata.get(self.name) or ""
            self.posted_id = int(raw) if raw.isdecimal() and len(raw) < 19 else None
            self.choosing = bool(formdata.get(f"{self.name}-choosing"))  # the radio buttons of the matches
            self.data = None  # decided in pre_validate
            self.submitted = True
        else:
            self.submitted = False
            if data is unset_value or data is None:
                data = self.default() if callable(self.default) else self.default
            self.data = self._as_unit(data)
            self.text = self._label_of(self.data) if self.data is not None else ""

    @property
    def unit_id(self) -> int | None:
        return self.data.id if self.data is not None else None

    def exclude(self, unit) -> None:
        """Leave `unit` and everything under it out of the choice (a unit cannot move into itself)."""
        self.exclude_path, self.exclude_id = unit.path, unit.id

    def search_url(self) -> str:
        """The JSON suggestions for this field (static/js/pick.js asks it as you type)."""
        return url_for(
            "places.pick",
            action=self.action,
            kind=",".join(self.kinds) if self.kinds else None,
            exclude=self.exclude_id,
        )

    def set_unit(self, unit) -> None:
        self.data = unit
        self.text = self._label_of(unit) if unit is not None else ""

    # --- resolving ------------------------------------------------------------------------------
    def _context(self):
        return get_session(), current_user, path_filter(current_user, self.action, OrgUnit.path)

    def _as_unit(self, value):
        """A unit, or a unit's id (as `obj=member` gives for member.grid_id), as the field's value."""
        if value is None or not isinstance(value, int):
            return value
        unit = get_session().get(OrgUnit, value)
        return unit if unit is not None and can(current_user, "org.view", unit) else None

    def _label_of(self, unit) -> str:
        return path_label(get_session(), unit)

    def _allowed(self, session, principal, unit_id: int):
        unit = session.get(OrgUnit, unit_id)
        if unit is None or unit.tenant_id != principal.tenant_id or unit.retired_at is not None:
            return None
        if self.kinds and unit.kind not in self.kinds:
            return None
        if self.exclude_path and unit.path.startswith(self.exclude_path):
            return None
        return unit if can(principal, self.action, unit) else None

    def pre_validate(self, form):
        if not self.submitted:
            return
        session, principal, scope = self._context()
        chosen = self._allowed(session, principal, self.posted_id) if self.posted_id else None
        if not self.text and chosen is None:
            if self.is_required:
                raise StopValidation(str(self.required_message))
            self.data = None
            return
        if chosen is not None:
            label = path_labels(session, [chosen])[chosen.id]
            if not self.text or " ".join(self.text.split()) in (label, chosen.name):
                self.set_unit(chosen)
                return
        found = resolve_unit(
            session, principal.tenant_id, self.text, scope, kinds=self.kinds, exclude_path=self.exclude_path
        )
        if chosen is not None and self.choosing and any(u.id == chosen.id for u in found):
            self.set_unit(chosen)  # picked from the list of matches the form showed
            return
        if len(found) == 1:
            self.set_unit(found[0])
            return
        if not found:
            raise StopValidation(
                str(_l("Nothing you may choose here is called “%(text)s”. Try fewer characters.", text=self.text))
            )
        self.matches = found
        self.match_labels = path_labels(session, found)
        raise StopValidation(str(_l("Several places match “%(text)s”: choose one.", text=self.text)))

    def match_rows(self) -> list[tuple[int, str, str]]:
        """The matches the form lists to choose from: id, path, and the unit's kind (macro unit_pick)."""
        return [
            (u.id, self.match_labels[u.id], str(GRID_TYPE_LABELS[u.grid_type] if u.grid_type else KIND_LABELS[u.kind]))
            for u in self.matches
        ]

    def _value(self):
        return str(self.data.id) if self.data is not None else ""
