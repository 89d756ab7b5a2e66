"""Turn pydantic validation errors into field errors a person can act on, in their language."""

from __future__ import annotations

from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError

from app.errors import ValidationFailed


def _message(err: dict) -> tuple[str, str]:
    t = err["type"]
    ctx = err.get("ctx") or {}
    if t == "value_error":
        code = str(ctx.get("error", "")).strip()
        return code, {
            "bad_mobile": _("Enter an 11-digit mainland mobile number, such as 13800138000."),
            "bad_id_number": _("This ID number is not valid: check the 18 characters (the last may be X)."),
        }.get(code, _("This value is not valid."))
    if t in ("missing", "string_too_short"):
        return "missing", _("This field is required.")
    if t == "string_too_long":
        return "too_long", _("Use at most %(n)s characters.", n=ctx.get("max_length"))
    if t in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return "out_of_range", _("This number is out of range.")
    if t in ("int_parsing", "int_type"):
        return "not_a_number", _("Enter a whole number.")
    if t == "literal_error":
        return "not_allowed", _("Choose one of: %(choices)s.", choices=ctx.get("expected"))
    if t in ("bool_parsing", "bool_type"):
        return "not_yes_no", _("Enter yes or no.")
    if t == "extra_forbidden":
        return "unknown_field", _("This field is not known.")
    return t, _("This value is not valid.")


def field_errors(exc: ValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        code, message = _message(err)
        out.append({"field": ".".join(str(p) for p in err["loc"]) or None, "code": code, "message": message})
    return out


def parse(model: type[BaseModel], data) -> BaseModel:
    """Validate `data` against `model`, raising ValidationFailed with every field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = field_errors(e)
        raise ValidationFailed(_("Some fields need fixing."), details=errors) from None
