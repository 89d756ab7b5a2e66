"""The JSON API under /api/v1."""


def register_api(app) -> None:
    from .v1 import bp

    app.register_blueprint(bp)
