"""The auditors' page: every signed statement of the district, its download, and the public key to keep."""

from __future__ import annotations

from flask import Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import require
from app.db import get_session
from app.errors import NotFound
from app.validation import int_arg

from . import services
from .models import LedgerStatement

PAGE = 50


@login_required
def list_statements():
    require(current_user, "statements.view")
    db = get_session()
    before = int_arg(request.args, "before")
    q = select(LedgerStatement).where(LedgerStatement.tenant_id == current_user.tenant_id)
    if before:
        q = q.where(LedgerStatement.id < before)
    rows = list(db.scalars(q.order_by(LedgerStatement.id.desc()).limit(PAGE)))
    key = _latest_key(db)
    return render_template(
        "statements/list.html",
        statements=rows,
        key_pem=services.public_pem(key) if key else None,
        key_fingerprint=services.fingerprint(key) if key else None,
        older_url=url_for(".list_statements", before=rows[-1].id) if len(rows) == PAGE else None,
    )


def _filename(row: LedgerStatement) -> str:
    when = row.period if row.kind == "month_end" else row.cutoff_at.strftime("%Y%m%dT%H%M%SZ")
    return f"ledger-statement-{row.tenant_id}-{when}-{row.id}.json"


@login_required
def download(statement_id: int):
    require(current_user, "statements.view")
    row = get_session().get(LedgerStatement, statement_id)
    if row is None or row.tenant_id != current_user.tenant_id:
        raise NotFound(_("No such statement."))
    return Response(
        row.document.encode(),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{_filename(row)}"'},
    )


def _latest_key(db):
    """The public key of the district's newest statement. Read from the statement, not the key file: the
    web server never needs the private key (only the worker and the CLI that sign do)."""
    document = db.scalar(
        select(LedgerStatement.document)
        .where(LedgerStatement.tenant_id == current_user.tenant_id)
        .order_by(LedgerStatement.id.desc())
        .limit(1)
    )
    return services.embedded_public_key(services.parse(document)) if document else None


@login_required
def public_key():
    require(current_user, "statements.view")
    key = _latest_key(get_session())
    if key is None:
        raise NotFound(_("No statement has been signed yet, so there is no public key to download."))
    return Response(
        services.public_pem(key),
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="aixin-statement-key.pem"'},
    )
