"""Imports every area's models so Alembic and the app see the whole schema."""

from .db import Base  # noqa: F401
