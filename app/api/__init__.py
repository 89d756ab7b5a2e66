"""api: the JSON API under /api/v1 — the shared rules every area's API blueprint gets
(app/api/blueprints.py), the shared schemas, the OpenAPI document and the CSRF token. The areas'
own routes live in the areas (app/places/api.py, app/people/api.py)."""

from app.area import Area

AREA = Area(name="api", blueprints=["app.api.blueprint:bp"])
