"""A note's page and its API twin; the one permission check decides who sees it."""

from __future__ import annotations

from flask_login import current_user, login_required
from pydantic import BaseModel

from app.access import require
from app.api.openapi import api, responses
from app.db import get_session
from app.errors import NotFound

from .models import Note


def _note(note_id: int) -> Note:
    note = get_session().get(Note, note_id)
    if note is None or note.tenant_id != current_user.tenant_id:
        raise NotFound("No such note.")
    require(current_user, "note.view", note)
    return note


@login_required
def note_page(note_id: int):
    return f"<p>{_note(note_id).text}</p>"


class NoteOut(BaseModel):
    id: int
    text: str


@api.validate(resp=responses(HTTP_200=NoteOut), tags=["notes"], operation_id="getNote")
def note_json(note_id: int):
    note = _note(note_id)
    return NoteOut(id=note.id, text=note.text)
