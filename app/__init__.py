"""Aixin web application: `create_app(config=None)` builds a Flask app; nothing global is bound."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import DEV_SECRET, Config, database_url

from . import access
from .area import area_of, home_panels, install, menu_links
from .cli import register_cli
from .db import make_engine, ping, register_session
from .errors import error_response, register_error_handlers
from .extensions import babel, csrf, limiter, select_locale

# The areas, lowest first. Each is a package whose `AREA` record says what it brings (app/area.py);
# adding an area is a new package and one line here.
AREAS = [
    "app.audit",
    "app.places",
    "app.points",
    "app.people",
    "app.auth",
    "app.notices",
    "app.activities",
    "app.checkins",
    "app.gridreports",
    "app.certificates",
    "app.outlets",
    "app.reports",
    "app.fund",
    "app.statements",
    "app.api",
    "app.demo",
]


class _BoundedInt(IntegerConverter):
    """<int:...> in every route is a database id: 1 to 2^63-1. Anything else is simply not found,
    rather than an overflow in the database driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict | None = None, areas: list[str] | None = None) -> Flask:
    """The app with `config` over the environment's, and the areas `areas` (default: AREAS)."""
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
    if app.config.get("PROXY_HOPS"):
        # Behind nginx: the client's address (sign-in throttling, audit), scheme and host come from the
        # proxy's X-Forwarded-* headers, trusting exactly PROXY_HOPS proxies.
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")

    engine = app.config.get("ENGINE") or make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    # Tests may hand in a session factory bound to one connection in an outer transaction (each request
    # then commits a savepoint, and the test rolls everything back).
    app.extensions["db_sessionmaker"] = app.config.get("SESSION_FACTORY") or sessionmaker(
        bind=engine, expire_on_commit=False
    )
    register_session(app)

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    _init_security_headers(app)

    register_error_handlers(app)
    for name in AREAS if areas is None else areas:
        install(app, area_of(name))
    access.check_registry()

    @app.context_processor
    def _template_helpers():
        return {
            "can": lambda action, target=None: access.can(current_user, action, target),
            # The signed-in menu: each area lists its links in its AREA record (app/area.py, MenuLink).
            "menu_links": lambda: menu_links(app, current_user),
            "get_locale": get_locale,
            "ROLE_LABELS": {k: v.label for k, v in access.ROLE_KINDS.items()},
        }

    @app.get("/healthz")
    def healthz():
        if ping(engine):
            return jsonify(status="ok", database="reachable"), 200
        return jsonify(status="unavailable", database="unreachable"), 503

    @app.get("/")
    def home():
        # Areas add their panels (app.area.register_home_panel); none is imported here.
        return render_template("home.html", panels=home_panels(app) if current_user.is_authenticated else [])

    @app.before_request
    def _refuse_nul_characters():
        # No text column accepts NUL (PostgreSQL refuses it outright): say so instead of failing later.
        # The API checks its own input and names the field (422).
        if request.path.startswith("/api/"):
            return None
        if any("\x00" in v for v in request.args.values()) or (
            request.form and any("\x00" in v for v in request.form.values())
        ):
            return error_response(
                "bad_character", _("The request contains a NUL character; remove it and try again."), 400
            )
        return None

    @app.after_request
    def _remember_language(response):
        lang = request.args.get("lang")
        if lang in ("en", "zh"):
            response.set_cookie(
                "lang",
                lang,
                max_age=365 * 86400,
                samesite="Lax",
                httponly=True,
                secure=app.config["SESSION_COOKIE_SECURE"],
            )
        return response

    register_cli(app)
    return app


MIN_KEY_LENGTH = 32


def _refuse_weak_keys(config) -> None:
    """Production starts only with a strong SECRET_KEY and a separate, strong ID_HASH_KEY: with the key,
    the hash of an ID number is reversible by trying the few million numbers its masked form leaves."""
    secret, id_key = config.get("SECRET_KEY") or "", config.get("ID_HASH_KEY") or ""
    if secret == DEV_SECRET or len(secret) < MIN_KEY_LENGTH:
        raise RuntimeError(
            f"refusing to start in production: SECRET_KEY must be a random value of at least "
            f"{MIN_KEY_LENGTH} characters (not the development value)"
        )
    if len(id_key) < MIN_KEY_LENGTH:
        raise RuntimeError(
            f"refusing to start in production: set ID_HASH_KEY to a random value of at least "
            f"{MIN_KEY_LENGTH} characters"
        )
    if id_key == secret or id_key == DEV_SECRET:
        raise RuntimeError("refusing to start in production: ID_HASH_KEY must differ from SECRET_KEY")
    if len(set(secret)) < 8 or len(set(id_key)) < 8:
        raise RuntimeError(
            "refusing to start in production: SECRET_KEY and ID_HASH_KEY must be random (too few different characters)"
        )


def _init_security_headers(app: Flask) -> None:
    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=(self)")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["ENV"] == "production":
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html" or request.path.startswith("/api/"):
            h.setdefault("Cache-Control", "no-store")  # pages show personal data
        return response
