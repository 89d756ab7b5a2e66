"""Imports every area's models so Alembic and the app see the whole schema (the areas listed in app/__init__.py)."""

from importlib import import_module

from app import AREAS
from app.area import model_modules
from app.db import Base

for _module in model_modules(AREAS):
    import_module(_module)

__all__ = ["Base"]
