"""Evidence files (allocation documents, payout evidence): stored once per content under the instance
folder, named by their SHA-256 (`instance/uploads/fund/<sha256>`), described by a FundAttachment row."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound

from .errors import FundInvalid
from .models import FundAttachment

MAX_BYTES = 10 * 1024 * 1024
# What a district office attaches: scans, photos, PDFs, spreadsheets.
ALLOWED = {
    "application/pdf": b"%PDF",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK\x03\x04",
}


def upload_folder() -> Path:
    """Where the files are kept: FUND_UPLOAD_FOLDER, or instance/uploads/fund of the current app."""
    folder = current_app.config.get("FUND_UPLOAD_FOLDER") or os.path.join(current_app.instance_path, "uploads", "fund")
    return Path(folder)


def store_attachment(
    session: Session,
    tenant_id: int,
    *,
    filename: str,
    content: bytes,
    actor_user_id: int | None,
    folder: Path | None = None,
) -> FundAttachment:
    """Keep `content` (a PDF, JPEG, PNG or .xlsx of at most 10 MB, recognised by its first bytes, not
    its name) and return its row. The file is written before the row (same content, same file: a
    rolled-back transaction leaves at most an unreferenced file). Raises FundInvalid otherwise."""
    if not content:
        raise FundInvalid(str(_l("The file is empty.")), field="attachment")
    if len(content) > MAX_BYTES:
        raise FundInvalid(str(_l("The file is larger than 10 MB.")), field="attachment")
    kind = next((t for t, magic in ALLOWED.items() if content.startswith(magic)), None)
    if kind is None:
        raise FundInvalid(str(_l("Attach a PDF, a JPEG or PNG photo, or an .xlsx file.")), field="attachment")
    digest = hashlib.sha256(content).hexdigest()
    folder = folder or upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if not path.exists():
        tmp = folder / f".{digest}.{os.getpid()}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, path)
    row = FundAttachment(
        tenant_id=tenant_id,
        sha256=digest,
        filename=os.path.basename(filename or "attachment")[:200],
        content_type=kind,
        size_bytes=len(content),
        uploaded_by_user_id=actor_user_id,
    )
    session.add(row)
    session.flush()
    return row


def read_attachment(
    session: Session, tenant_id: int, attachment_id: int, folder: Path | None = None
) -> tuple[FundAttachment, bytes]:
    """The row and the bytes of one attachment of the district. Raises NotFound when unknown, and
    FundInvalid when the stored file no longer matches its hash."""
    row = session.scalar(
        select(FundAttachment).where(FundAttachment.id == attachment_id, FundAttachment.tenant_id == tenant_id)
    )
    if row is None:
        raise NotFound(str(_l("No such attachment.")))
    path = (folder or upload_folder()) / row.sha256
    if not path.exists():
        raise NotFound(str(_l("No such attachment.")))
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != row.sha256:
        raise FundInvalid(str(_l("The stored file was changed since it was attached.")), field="attachment")
    return row, content
