"""Typed application errors and the one place they become HTTP answers (HTML or JSON)."""

from __future__ import annotations

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ledger import LedgerError


class AppError(Exception):
    """An error a user can act on. `code` is stable (API clients match on it); `status` is HTTP."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, field: str | None = None, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []


class ValidationFailed(AppError):
    code = "validation_failed"
    status = 422


class NotFound(AppError):
    code = "not_found"
    status = 404


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class Conflict(AppError):
    code = "conflict"
    status = 409


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(code: str, message: str, status: int, details: list | None = None, field: str | None = None):
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("error.html", code=code, message=message, status=status, details=details or []), status


def _too_many_attempts() -> str:
    """The truth about a throttle: how long it still lasts (the limit's own window), in Beijing time."""
    import math
    import time
    from datetime import UTC, datetime

    from flask_babel import format_time, gettext as _

    from .extensions import limiter

    limit = limiter.current_limit
    if limit is None or not limit.breached:
        return _("Too many attempts. Wait a few minutes and try again.")
    minutes = max(1, math.ceil((limit.reset_at - 1 - time.time()) / 60))  # reset_at is rounded up a second
    return _("Too many attempts. Sign-in is locked for %(minutes)d more minutes, until %(time)s; try again then.",
             minutes=minutes, time=format_time(datetime.fromtimestamp(limit.reset_at, UTC), "HH:mm"))


def register_error_handlers(app) -> None:
    @app.errorhandler(AppError)
    def _app_error(e: AppError):
        return error_response(e.code, e.message, e.status, e.details, e.field)

    @app.errorhandler(LedgerError)
    def _ledger_error(e: LedgerError):
        # The ledger speaks English to engineers; users get their language, with the detail after it.
        from flask_babel import gettext as _

        said = {
            "insufficient_balance": _("Not enough points or funds available for this."),
            "account_closed": _("This account is closed."),
            "idempotency_conflict": _("This request was already used for something else. Reload and try again."),
            "already_reversed": _("This has already been reversed."),
            "not_pending": _("This is no longer awaiting a decision."),
            "pending_expired": _("This has expired."),
        }.get(e.code, _("The ledger refused this."))
        return error_response(e.code, f"{said} ({e})", 409)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        from flask_babel import gettext as _

        messages = {
            400: _("The request could not be understood. Check the form and try again."),
            403: _("You do not have permission to do this."),
            404: _("Not found. It may have been moved, or you may not have access to it."),
            405: _("This action is not allowed here."),
            413: _("The file is too large (20 MB at most)."),
            429: _too_many_attempts() if e.code == 429 else "",
        }
        code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 429: "too_many_requests"}.get(e.code, "http_error")
        message = messages.get(e.code, e.description or e.name)
        if e.code == 400 and e.description and "CSRF" in e.description:
            code, message = "csrf_failed", _("The form has expired or is missing its security token. Reload the page and try again.")
        resp = error_response(code, message, e.code or 500)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unexpected error")
        from flask_babel import gettext as _

        return error_response("internal_error", _("Something went wrong on our side. Nothing was saved; please try again."), 500)
