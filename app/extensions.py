"""Unbound Flask extensions, initialised in create_app()."""

from flask import current_app, has_request_context, request
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


def per_user_limit(scope: str, default: str, setting: str, **kwargs):
    """A limit counted per signed-in user (per address when signed out), shared by every route it
    decorates (a page and its API twin), of `default` unless the `setting` config value overrides it
    (Flask-Limiter's syntax). `kwargs` go to Flask-Limiter (methods, deduct_when)."""
    from flask_login import current_user

    def _limit() -> str:
        return current_app.config.get(setting) or default

    def _key() -> str:
        user_id = getattr(current_user, "user_id", None)
        return f"{scope}:user:{user_id}" if user_id else f"{scope}:ip:{request.remote_addr}"

    return limiter.shared_limit(_limit, scope=scope, key_func=_key, **kwargs)


def select_locale() -> str:
    """Chinese unless the user chose English (?lang=en, remembered in a cookie). Outside a request (the
    CLI, jobs, the demo loader) Chinese."""
    if not has_request_context():
        return "zh_Hans_CN"
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in ("en", "zh"):
        return "en" if chosen == "en" else "zh_Hans_CN"
    return "zh_Hans_CN"
