"""The API area's own routes: the OpenAPI document and the session's CSRF token."""

from __future__ import annotations

from flask import jsonify
from flask_wtf.csrf import generate_csrf

from .openapi import api, document, responses
from .schemas import CsrfTokenOut


def openapi():
    return jsonify(document())


@api.validate(resp=responses(HTTP_200=CsrfTokenOut), tags=["session"], operation_id="getCsrfToken")
def csrf_token():
    """The CSRF token for this session: send it as X-CSRFToken on every POST and PATCH."""
    return CsrfTokenOut(csrf_token=generate_csrf())
