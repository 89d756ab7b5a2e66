"""The field that picks a payee or an activity by typing part of its name, never its number.

It renders with the place picker's macro (`unit_pick` in _macros.html): a text input `<name>-text` and a
hidden `<name>` holding the id, with suggestions from a JSON URL as you type (static/js/pick.js,
which only needs `items: [{id, path, kind}]`). Without the script the server resolves the typed text:
one match → it; several → the form comes back with them as radio buttons; none → an error."""

from __future__ import annotations

from collections.abc import Callable

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import Field
from wtforms.utils import unset_value
from wtforms.validators import StopValidation

from app.db import get_session

from .picks import Found


class PickField(Field):
    def __init__(
        self,
        label=None,
        validators=None,
        *,
        search: Callable[..., list[Found]],
        get: Callable[..., Found | None],
        endpoint: str = "",
        required: bool = True,
        required_message=None,
        **kwargs,
    ):
        super().__init__(label, validators, **kwargs)
        self.search, self.get, self.endpoint = search, get, endpoint
        self.is_required = required
        self.required_message = required_message or _l("Type part of the name and choose one.")
        self.text = ""
        self.matches: list[Found] = []
        self.found: Found | None = None
        self.posted_id: int | None = None
        self.choosing = False
        self.submitted = False

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.matches = []
        if formdata is not None and (self.name in formdata or f"{self.name}-text" in formdata):
            self.text = " ".join((formdata.get(f"{self.name}-text") or "").split())[:200]
            raw = formdata.get(self.name) or ""
            self.posted_id = int(raw) if raw.isdecimal() and len(raw) < 19 else None
            self.choosing = bool(formdata.get(f"{self.name}-choosing"))
            self.submitted = True
            self.data = None
        else:
            self.submitted = False
            if data is unset_value:
                data = self.default() if callable(self.default) else self.default
            self.set_id(data)

    def set_id(self, value) -> None:
        found = self.get(get_session(), current_user, value) if isinstance(value, int) and value > 0 else None
        self.found = found
        self.data = found.id if found else None
        self.text = found.label if found else ""

    def pre_validate(self, form):
        if not self.submitted:
            return
        session = get_session()
        chosen = self.get(session, current_user, self.posted_id) if self.posted_id else None
        if not self.text and chosen is None:
            if self.is_required:
                raise StopValidation(str(self.required_message))
            return
        if chosen is not None and (not self.text or self.text in (chosen.label, chosen.name) or self.choosing):
            self._take(chosen)
            return
        found = self.search(session, current_user, self.text)
        if len(found) == 1:
            self._take(found[0])
            return
        if not found:
            raise StopValidation(
                str(_l("Nothing you may choose here is called “%(text)s”. Try fewer characters.", text=self.text))
            )
        self.matches = found
        raise StopValidation(str(_l("Several match “%(text)s”: choose one.", text=self.text)))

    def search_url(self) -> str:
        """The JSON suggestions for this field (static/js/pick.js asks it as you type)."""
        return url_for(self.endpoint)

    def match_rows(self) -> list[tuple[int, str, str]]:
        """The matches the form lists to choose from: id and label (macro unit_pick)."""
        return [(m.id, m.label, "") for m in self.matches]

    def _take(self, found: Found) -> None:
        self.found, self.data, self.text = found, found.id, found.label

    def _value(self):
        return str(self.data) if self.data else ""
