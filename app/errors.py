"""Typed application errors and the one place they become HTTP answers (HTML or JSON)."""

from __future__ import annotations

import math
import time
import traceback
from datetime import UTC, datetime
from typing import Any, cast

from flask import current_app, g, jsonify, make_response, render_template, request
from flask_babel import format_time
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as NotFoundHTTP
from werkzeug.routing import RequestRedirect

from app.extensions import login_manager
from ledger import LedgerError

from .extensions import limiter


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
        body: dict[str, dict[str, Any]] = {"error": {"code": code, "message": message}}
        if field:
            body["error"]["field"] = field
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("error.html", code=code, message=message, status=status, details=details or []), status


def _too_many_attempts() -> str:
    """The truth about a throttle: how long it still lasts (the limit's own window), in Beijing time."""

    limit = limiter.current_limit
    if limit is None or not limit.breached:
        return _("Too many attempts. Wait a few minutes and try again.")
    minutes = max(1, math.ceil((limit.reset_at - 1 - time.time()) / 60))  # reset_at is rounded up a second
    until = format_time(datetime.fromtimestamp(limit.reset_at, UTC), "HH:mm")
    if request.endpoint == "auth.signin":
        return _(
            "Too many attempts. Sign-in is locked for %(minutes)d more minutes, until %(time)s; try again then.",
            minutes=minutes,
            time=until,
        )
    return _("Too many requests. Wait %(minutes)d minutes, until %(time)s, and try again.", minutes=minutes, time=until)


def register_error_handlers(app) -> None:
    @app.errorhandler(AppError)
    def _app_error(e: AppError):
        return error_response(e.code, e.message, e.status, e.details, e.field)

    @app.errorhandler(LedgerError)
    def _ledger_error(e: LedgerError):
        # The ledger speaks English to engineers; users get their language, with the detail after it.

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

        if e.code == 405:
            allowed = methods_that_match()
            if not allowed:  # Werkzeug says 405 for /members/0 (an id its converter refuses): nothing is there
                e = NotFoundHTTP()
            else:
                cast(MethodNotAllowed, e).valid_methods = allowed  # Werkzeug's 405 is a MethodNotAllowed

        messages: dict[int | None, str] = {
            400: _("The request could not be understood. Check the form and try again."),
            403: _("You do not have permission to do this."),
            404: _("Not found. It may have been moved, or you may not have access to it."),
            405: _("This action is not allowed here."),
            413: _("The file is too large (20 MB at most)."),
            429: _too_many_attempts() if e.code == 429 else "",
        }
        codes: dict[int | None, str] = {
            400: "bad_request",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            429: "too_many_requests",
        }
        code = codes.get(e.code, "http_error")
        message = messages.get(e.code, e.description or e.name)
        if e.code == 400 and e.description and "CSRF" in e.description:
            code, message = (
                "csrf_failed",
                _("The form has expired or is missing its security token. Reload the page and try again."),
            )
        resp = make_response(error_response(code, message, e.code or 500))
        valid_methods = getattr(e, "valid_methods", None)
        if valid_methods:  # a 405 says which methods the URL takes
            resp.headers["Allow"] = ", ".join(valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        # The error page's menu reads the database (the signed-in user's links, unread notices): a
        # session a failed statement left needing a rollback would fail again there, and the user would
        # get a bare "Internal Server Error" instead of this page. Nothing of the request is kept anyway.
        _discard_db_work()
        if database_unavailable(e):
            # The page's header would ask the database again (who is signed in, their menu): show it
            # signed out rather than wait on a database that just failed.
            g._login_user = login_manager.anonymous_user()
            app.logger.error("database unavailable on %s %s: %s", request.method, request.endpoint, redacted(e))
            return error_response(
                "unavailable",
                _("The service is briefly unavailable. Nothing was saved; please try again in a minute."),
                503,
            )
        app.logger.error("unexpected error on %s %s:\n%s", request.method, request.endpoint, redacted_traceback(e))
        return error_response(
            "internal_error", _("Something went wrong on our side. Nothing was saved; please try again."), 500
        )


def _discard_db_work() -> None:
    """Roll back the request's database session, if it has one (app/db.register_session)."""
    session = g.get("db_session")
    if session is None:
        return
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 (the connection may be gone: the page is shown signed out then)
        g._login_user = login_manager.anonymous_user()


def methods_that_match() -> list[str]:
    """The methods for which this URL names something (its Allow header), re-matched per method."""

    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        try:
            adapter.match(method=method)
        except RequestRedirect:
            allowed.append(method)
        except HTTPException:
            continue
        else:
            allowed.append(method)
    return allowed if set(allowed) - {"OPTIONS", "HEAD"} else []


def database_unavailable(e: BaseException) -> bool:
    """The database cannot be reached (down, restarting, connection lost) — not a bad statement."""
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return True
    if isinstance(e, (OperationalError, InterfaceError, DisconnectionError)):
        # OperationalError also covers lock timeouts and the like: all "try again later".
        return True
    return False


def redacted(e: BaseException) -> str:
    """The exception's class, and the database's error code — never its message: a driver's message
    repeats bound values and rows ("Failing row contains (…, 13800138000, …)"), i.e. personal data."""
    name = f"{type(e).__module__}.{type(e).__qualname__}"
    orig = getattr(e, "orig", None)
    if orig is not None:
        code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None) or ""
        name += f" from {type(orig).__module__}.{type(orig).__qualname__}" + (f" [{code}]" if code else "")
    return name


def redacted_traceback(e: BaseException) -> str:
    """Where it went wrong (file, line, function, source line of each frame, for every chained
    exception), with each exception shown by its class only (see `redacted`)."""
    parts: list[str] = []
    seen: set[int] = set()
    chain: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
    for exc in reversed(chain):
        frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), capture_locals=False)
        parts.append("Traceback (most recent call last):\n" + "".join(frames.format()) + redacted(exc))
    return "\n\nwhich caused:\n".join(parts)
