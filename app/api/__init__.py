"""api: the JSON API under /api/v1 — the shared rules (app/api/blueprints.py), the OpenAPI document,
the CSRF token, and the org-unit and member routes."""

from app.area import Area

AREA = Area(name="api", blueprints=["app.api.blueprint:bp"])
