"""Unbound Flask extensions, initialised in create_app()."""

from flask import has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits are declared on the routes that need them (sign-in); nothing is limited by default.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def select_locale() -> str:
    """Chinese unless the user chose English (?lang=en, remembered in a cookie). Outside a request (the
    CLI, jobs, the demo loader) Chinese."""
    if not has_request_context():
        return "zh_Hans_CN"
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in ("en", "zh"):
        return "en" if chosen == "en" else "zh_Hans_CN"
    return "zh_Hans_CN"
