"""`api_blueprint`: a blueprint under /api/v1 with the house rules every API route shares.

Each area that has API routes makes its own with `api_blueprint("<area>_api", __name__)` and lists it
in its `Area.blueprints`; every route on it is signed-in only, bodies of writes are checked before
SpecTree validates them, and errors answer in the one JSON shape."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from app.db import get_session
from app.errors import AppError, error_response
from app.extensions import csrf, login_manager
from app.pagination import paginate

from .openapi import check_body
from .schemas import MAX_ID

PREFIX = "/api/v1"
# Ids beyond BIGINT cannot exist; the converter answers 404 instead of letting the driver overflow.
ID = f"int(min=1, max={MAX_ID})"
PUBLIC_ENDPOINTS = {"api_v1.openapi"}  # the document describes the API; it holds no data


def _signed_in_and_sane():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
        csrf.protect()
    if request.method in ("POST", "PATCH", "PUT"):
        check_body()
    return None


def _app_error(e: AppError):
    # A service's single-field error (field=...) becomes the API's details list too.
    details = e.details or ([{"field": e.field, "code": e.code, "message": e.message}] if e.field else None)
    if details:  # each detail carries a message, as the document's FieldError says (the error's own if none)
        details = [d if isinstance(d, dict) and d.get("message") else {**d, "message": e.message} for d in details]
    return error_response(e.code, e.message, e.status, details, e.field)


def page_of(stmt, query, out, page_model):
    """One page of `stmt` as the API answers it (`out.of` turns each row into its schema)."""
    page = paginate(get_session(), stmt, size=query.page_size, number=query.page)
    return page_model(
        items=[out.of(x) for x in page.items], page=page.number, page_size=page.size, has_next=page.has_next
    )


def api_blueprint(name: str, import_name: str) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix=PREFIX)
    # CSRF is checked in the hook, after the sign-in check, so an unauthenticated write answers 401 as
    # the document says (CSRFProtect's own check would run first and answer 400).
    csrf.exempt(bp)
    bp.before_request(_signed_in_and_sane)
    bp.register_error_handler(AppError, _app_error)
    return bp
