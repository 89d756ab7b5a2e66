"""Aixin web application: `create_app(config=None)` builds a Flask app; nothing global is bound."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy.orm import sessionmaker
from werkzeug.routing import IntegerConverter

from config import DEV_SECRET, Config, database_url

from .db import get_session, make_engine, ping, register_session
from .extensions import babel, csrf, limiter, login_manager, select_locale


class _BoundedInt(IntegerConverter):
    """<int:...> in every route is a database id: 1 to 2^63-1. Anything else is simply not found,
    rather than an overflow in the database driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder="../static", template_folder="templates")
    app.url_map.converters["int"] = _BoundedInt
    app.config.from_mapping(Config.as_dict())
    if config:
        app.config.update(config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    production = app.config["ENV"] == "production"
    if production:
        _refuse_weak_keys(app.config)
    app.config["SESSION_COOKIE_SECURE"] = app.config.get("SESSION_COOKIE_SECURE") or production
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")

    engine = app.config.get("ENGINE") or make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    register_session(app)

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    _init_login(app)
    _init_security_headers(app)

    from .errors import register_error_handlers

    register_error_handlers(app)
    _register_blueprints(app)

    from .auth.permissions import ROLE_KINDS, can

    @app.context_processor
    def _template_helpers():
        return {"can": lambda action, target=None: can(current_user, action, target), "get_locale": get_locale,
                "url_map_endpoints": app.view_functions.keys(),
                "ROLE_LABELS": {k: v.label for k, v in ROLE_KINDS.items()}}

    @app.get("/healthz")
    def healthz():
        if ping(engine):
            return jsonify(status="ok", database="reachable"), 200
        return jsonify(status="unavailable", database="unreachable"), 503

    @app.get("/")
    def home():
        return render_template("home.html")

    @app.before_request
    def _refuse_nul_characters():
        # No text column accepts NUL (PostgreSQL refuses it outright): say so instead of failing later.
        # The API checks its own input and names the field (422).
        from flask_babel import gettext as _

        from .errors import error_response

        if request.path.startswith("/api/"):
            return None
        if any("\x00" in v for v in request.args.values()) or (
            request.form and any("\x00" in v for v in request.form.values())
        ):
            return error_response("bad_character", _("The request contains a NUL character; remove it and try again."), 400)
        return None

    @app.after_request
    def _remember_language(response):
        lang = request.args.get("lang")
        if lang in ("en", "zh"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True,
                                secure=app.config["SESSION_COOKIE_SECURE"])
        return response

    from .cli import register_cli

    register_cli(app)
    return app


MIN_KEY_LENGTH = 32


def _refuse_weak_keys(config) -> None:
    """Production starts only with a strong SECRET_KEY and a separate, strong ID_HASH_KEY: with the key,
    the hash of an ID number is reversible by trying the few million numbers its masked form leaves."""
    secret, id_key = config.get("SECRET_KEY") or "", config.get("ID_HASH_KEY") or ""
    if secret == DEV_SECRET or len(secret) < MIN_KEY_LENGTH:
        raise RuntimeError(f"refusing to start in production: SECRET_KEY must be a random value of at least "
                           f"{MIN_KEY_LENGTH} characters (not the development value)")
    if len(id_key) < MIN_KEY_LENGTH:
        raise RuntimeError(f"refusing to start in production: set ID_HASH_KEY to a random value of at least "
                           f"{MIN_KEY_LENGTH} characters")
    if id_key == secret or id_key == DEV_SECRET:
        raise RuntimeError("refusing to start in production: ID_HASH_KEY must differ from SECRET_KEY")
    if len(set(secret)) < 8 or len(set(id_key)) < 8:
        raise RuntimeError("refusing to start in production: SECRET_KEY and ID_HASH_KEY must be random "
                           "(too few different characters)")


def _init_login(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    login_manager.init_app(app)
    login_manager.login_view = "auth.signin"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load(token: str):
        from datetime import timedelta

        from flask import flash, g

        from flask_babel import gettext as _

        from .auth.services import SessionExpired, load_principal

        try:
            return load_principal(get_session(), token,
                                  idle=timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]),
                                  lifetime=timedelta(hours=app.config["SESSION_LIFETIME_HOURS"]))
        except SessionExpired as e:
            g.session_expired = True
            flash(_("You were signed out after %(n)d minutes without activity. Please sign in again.",
                    n=app.config["SESSION_IDLE_MINUTES"]) if e.why == "idle_timeout" else
                  _("You were signed out: a sign-in lasts at most %(n)d hours. Please sign in again.",
                    n=app.config["SESSION_LIFETIME_HOURS"]), "info")
            return None

    @login_manager.unauthorized_handler
    def _unauthorized():
        from flask import flash, g, redirect, url_for

        from flask_babel import gettext as _

        from .errors import error_response, wants_json

        if wants_json():
            return error_response("unauthenticated", _("Sign in first."), 401)
        if not g.get("session_expired"):  # that message was already given
            flash(str(login_manager.login_message), "info")
        return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))


def _init_security_headers(app: Flask) -> None:
    csp = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
           "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["ENV"] == "production":
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html" or request.path.startswith("/api/"):
            h.setdefault("Cache-Control", "no-store")  # pages show personal data
        return response


def _register_blueprints(app: Flask) -> None:
    from .audit.views import bp as audit_bp
    from .auth.views import bp as auth_bp
    from .people.views import bp as people_bp
    from .places.views import bp as places_bp

    for bp in (auth_bp, places_bp, people_bp, audit_bp):
        app.register_blueprint(bp)
    from .api import register_api

    register_api(app)
