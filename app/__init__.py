"""Aixin web application: `create_app(config=None)` builds a Flask app; nothing global is bound."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template
from sqlalchemy.orm import sessionmaker

from config import DEV_SECRET, Config, database_url

from .db import make_engine, ping


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder="../static", template_folder="templates")
    app.config.from_mapping(Config.as_dict())
    if config:
        app.config.update(config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    if app.config["ENV"] == "production" and app.config["SECRET_KEY"] in (DEV_SECRET, "", None):
        raise RuntimeError("refusing to start in production with the development SECRET_KEY; set SECRET_KEY")

    engine = app.config.get("ENGINE") or make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)

    from .db import register_session

    register_session(app)

    @app.get("/healthz")
    def healthz():
        if ping(engine):
            return jsonify(status="ok", database="reachable"), 200
        return jsonify(status="unavailable", database="unreachable"), 503

    @app.get("/")
    def home():
        return render_template("home.html")

    from .ledger_cli import ledger_cli

    app.cli.add_command(ledger_cli)
    return app


__all__ = ["create_app", "g"]
