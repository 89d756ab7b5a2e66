"""Small things the fund's pages share: names for ids, this year in Beijing, an uploaded attachment."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.names import names_for_users
from app.db import utcnow
from app.people.models import Member
from app.times import to_beijing

from . import attachments
from .models import Fund


def this_year() -> int:
    return to_beijing(utcnow()).year


def user_names(db: Session, ids) -> dict[int, str]:
    people = names_for_users(db, current_user.tenant_id, sorted({i for i in ids if i}))
    return {uid: p.name for uid, p in people.items()}


def payee_names(db: Session, ids) -> dict[int, str]:
    """Each member's name with the last four digits of their mobile ("刘心怡（尾号 8008）"): a district
    has several people of one name, and whoever approves or pays must know which one it is."""
    wanted = sorted({i for i in ids if i})
    out: dict[int, str] = {}
    for i in range(0, len(wanted), 1000):
        rows = db.execute(
            select(Member.id, Member.name, Member.mobile_tail).where(
                Member.tenant_id == current_user.tenant_id, Member.id.in_(wanted[i : i + 1000])
            )
        )
        out.update({r.id: _("%(name)s (mobile …%(tail)s)", name=r.name, tail=r.mobile_tail) for r in rows})
    return out


def fund_names(db: Session, tenant_id: int) -> dict[int, str]:
    return dict(db.execute(select(Fund.id, Fund.name).where(Fund.tenant_id == tenant_id)).all())


def attachment_id_from(db: Session, field) -> int | None:
    """Store the file a form's FileField holds (if any) and return its row's id; AppError (FundInvalid
    with field `attachment`) when it is not a file the fund keeps."""
    upload = field.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    content = upload.read()
    if not content:
        return None
    row = attachments.store_attachment(
        db, current_user.tenant_id, filename=upload.filename, content=content, actor_user_id=current_user.user_id
    )
    return row.id
