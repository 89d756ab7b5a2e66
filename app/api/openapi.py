"""Request validation and the OpenAPI 3.1 document of /api/v1, both from the same pydantic models (SpecTree).

Why SpecTree (https://github.com/0b01001001/spectree) rather than a home-made registry: one decorator
per view validates the query string and JSON body with the pydantic model and records that model
for the document, on a plain Flask Blueprint. What it does not do our way is bent to the house here:
- its 422 answer: the `before` hook raises ValidationFailed, so app/errors.py answers as everywhere;
- it reads a malformed or non-JSON body as {}: `check_body` (a before_request of the blueprint)
  rejects those first, with 415 / 400 JSON answers;
- its document route and UI pages: not registered (mode "strict", no `register()`); the blueprint
  serves `document()` at /api/v1/openapi.json.
Validated values no database driver can take (NUL characters; integers beyond BIGINT, which pydantic
accepts, e.g. "grid_id": "99999999999999999999") are refused here too: bad input is never a 500.
"""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData
from werkzeug.exceptions import BadRequest

from app.errors import AppError, ValidationFailed
from app.validation import field_errors

from .schemas import MAX_ID, ErrorOut

MAX_BODY = 64 * 1024  # a member is well under 2 KB; bulk work goes through imports
# A write that carries many items in one call (`bulk`): a review of up to 20,000 attendances with
# adjustments (about 50 bytes each), an award to up to 5,000 members.
BULK_BODY = 2 * 1024 * 1024
# A write that carries files as base64 (a grid report's photos, a fund attachment of up to 10 MB).
FILE_BODY = 16 * 1024 * 1024


def bulk(view):
    """Mark an API write that takes many items in one body: up to BULK_BODY instead of MAX_BODY. Put it
    above @api.validate (it marks the function the blueprint registers)."""
    return large_body(BULK_BODY)(view)


def large_body(limit: int):
    """Mark an API write that takes a body of up to `limit` bytes (photos sent as base64)."""

    def mark(view):
        view.max_body = limit
        return view

    return mark


class MalformedJson(AppError):
    code = "malformed_json"
    status = 400


class UnsupportedMediaType(AppError):
    code = "unsupported_media_type"
    status = 415


class BodyTooLarge(AppError):
    code = "too_large"
    status = 413


def _validated(req, resp, error, instance, model_adapter) -> None:
    """SpecTree `before` hook: answer a pydantic error in the house format, not SpecTree's; then
    refuse values pydantic lets through but no database driver can take."""
    if error is not None:
        raise ValidationFailed(_("Some fields need fixing."), details=field_errors(error))
    for model in (req.context.query, req.context.json):
        if model is not None:
            _check_values(model.model_dump(), "")


_MODELS: dict[str, type] = {}


def _component_name(model: type) -> str:
    """A model's name in the document (#/components/schemas/<name>). SpecTree keeps one entry per name,
    so a second model of the same name would silently be documented as the first (a grid report's
    schema once stood for the outlets' stock report): a clash stops the app where the views are made."""
    found = _MODELS.setdefault(model.__name__, model)
    if found is not model:
        raise RuntimeError(
            f"two API models are named {model.__name__} ({found.__module__} and {model.__module__}): rename one"
        )
    return model.__name__


api = SpecTree(
    "flask",
    title="Aixin (爱心积分) API",
    version="1",
    description="Org units and members of one district. Sign in through /signin (session cookie); "
    "every POST and PATCH carries the X-CSRFToken header from GET /api/v1/csrf-token.",
    mode="strict",  # only decorated views appear in the document
    annotations=False,
    page_templates={},
    before=_validated,
    validation_error_status=422,
    validation_error_model=ErrorOut,
    naming_strategy=_component_name,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[
        SecurityScheme(
            name="session",
            data=SecuritySchemeData(
                type=SecureType.API_KEY,
                name="session",
                field_in=InType.COOKIE,
                description="The signed-in session (sign in at /signin)",
            ),
        ),
        SecurityScheme(
            name="csrf",
            data=SecuritySchemeData(
                type=SecureType.API_KEY,
                name="X-CSRFToken",
                field_in=InType.HEADER,
                description="From GET /api/v1/csrf-token",
            ),
        ),
    ],
    security={"session": []},
)

WRITE_SECURITY: dict[str, list[str]] = {"session": [], "csrf": []}


def responses(**codes) -> Response:
    """A SpecTree Response with the error answers every signed-in call can give."""
    errors = {"HTTP_401": (ErrorOut, "Not signed in"), "HTTP_404": (ErrorOut, "Not found, or not visible to you")}
    return Response(**errors, **codes)


def write_responses(**codes) -> Response:
    return responses(
        HTTP_400=(ErrorOut, "Malformed JSON or missing CSRF token"),
        HTTP_403=(ErrorOut, "Visible but not allowed"),
        HTTP_409=(ErrorOut, "Conflicts with existing data"),
        HTTP_413=(ErrorOut, "The body is larger than 64 KB"),
        HTTP_415=(ErrorOut, "The body is not application/json"),
        **codes,
    )


def document() -> dict:
    spec = api.spec
    # SpecTree calls every <int:...> path parameter int32; our ids are BIGINT.
    for path in spec["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("format") == "int32":
                    parameter["schema"]["format"] = "int64"
    return spec


def check_body() -> None:
    """Before SpecTree validates a write: the body must be a JSON object of sane size and values."""
    limit = getattr(current_app.view_functions.get(request.endpoint or ""), "max_body", MAX_BODY)
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(_("The request is too large."))
    if not request.is_json:
        raise UnsupportedMediaType(_("Send the body as JSON (Content-Type: application/json)."))
    if len(request.get_data(cache=True)) > limit:
        raise BodyTooLarge(_("The request is too large."))
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):
        raise MalformedJson(_("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise ValidationFailed(
            _("Some fields need fixing."),
            details=[{"field": None, "code": "not_an_object", "message": _("Send a JSON object.")}],
        )


def _check_values(value, where: str) -> None:
    problems: list[dict] = []
    _walk(value, where, problems)
    if problems:
        raise ValidationFailed(_("Some fields need fixing."), details=problems[:20])


def _walk(value, where: str, problems: list[dict]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, f"{where}.{k}" if where else str(k), problems)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{where}.{i}" if where else str(i), problems)
    elif isinstance(value, str):
        if "\x00" in value:
            problems.append(
                {
                    "field": where or None,
                    "code": "bad_character",
                    "message": _("This text contains characters that cannot be stored."),
                }
            )
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
        problems.append({"field": where or None, "code": "out_of_range", "message": _("This number is too large.")})
