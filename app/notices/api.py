"""The notices area's JSON API (app/notices/blueprint.py routes it): the signed-in member's notices."""

from __future__ import annotations

from flask_login import current_user

from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.db import get_session

from . import services as notices
from .schemas import MarkReadIn, NoticeList, NoticeOut, UnreadOut


@api.validate(resp=responses(HTTP_200=NoticeList), tags=["notices"], operation_id="listMyNotices")
def my_notices():
    """Your latest notices, newest first, and how many are unread."""
    db = get_session()
    tenant, member = current_user.tenant_id, current_user.member_id
    return NoticeList(
        unread=notices.unread_count(db, tenant, member),
        items=[NoticeOut.of(n) for n in notices.notices_of(db, tenant, member)],
    )


@api.validate(
    json=MarkReadIn,
    resp=write_responses(HTTP_200=UnreadOut),
    tags=["notices"],
    security=WRITE_SECURITY,
    operation_id="markMyNoticesRead",
)
def mark_read():
    """Mark all your notices read (send {})."""
    notices.mark_read(get_session(), current_user.tenant_id, current_user.member_id)
    return UnreadOut(unread=0)
