"""Shared input rules: names (members, org units), bounded integer and date arguments of pages, and
pydantic validation errors turned into field errors a person can act on, in their language."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.errors import AppError, ValidationFailed

MAX_ID = 2**63 - 1  # ids are BIGINT: a larger number names nothing and would overflow the driver
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2999, 12, 31)  # room for date arithmetic either side

# --- names ------------------------------------------------------------------------------------------

# Bidirectional embeddings, overrides and isolates: they make a name display as other text ("Trojan source").
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
FIELD_LABELS = {"name": _l("Name"), "party_org": _l("Party organisation (党组织)")}


def name_problem(value: str) -> str | None:
    """Why `value` cannot be a name (a code for name_message), or None when it can.

    Refused: a name that shows nothing (only spaces, zero-width or format characters, fillers);
    bidirectional controls; control (Cc) and format (Cf) characters anywhere — they break Excel
    files and terminals and can hide text. Leading and trailing spaces are trimmed before this."""
    if not value:
        return None  # "required" is the length rule's to say
    if all(
        ch.isspace() or ch in BLANK_LETTERS or unicodedata.category(ch) in ("Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp")
        for ch in value
    ):
        return "invisible_name"
    if any(ch in BIDI_CONTROLS for ch in value):
        return "bidi_control"
    if any(
        ch in BLANK_LETTERS or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value
    ):  # Cs: a lone surrogate
        return "control_character"
    return None


def name_message(code: str, field: str | None = "name") -> str:
    label = str(FIELD_LABELS.get(field or "name", FIELD_LABELS["name"]))
    return {
        "invisible_name": _(
            "%(field)s shows nothing: it has only spaces or invisible characters. Type the real text.", field=label
        ),
        "bidi_control": _(
            "%(field)s contains a text-direction control character (it can make the text display as "
            "something else). Type it again without it.",
            field=label,
        ),
        "control_character": _(
            "%(field)s contains a control or invisible character (such as a tab, a line break or an "
            "escape). Type it again without it.",
            field=label,
        ),
    }[code]


def check_name(value: str | None) -> str | None:
    """A pydantic validator: raise ValueError(code) for a name name_problem refuses."""
    if value is not None:
        code = name_problem(value)
        if code:
            raise ValueError(code)
    return value


def clean_name(value: str | None, field: str = "name", max_length: int = 100) -> str:
    """A name for a service that takes plain strings: trimmed, required, at most max_length, no
    invisible or control characters; ValidationFailed on `field` otherwise."""
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(_("Enter a name."), field=field)
    if len(value) > max_length:
        raise ValidationFailed(_("Use at most %(n)s characters.", n=max_length), field=field)
    code = name_problem(value)
    if code:
        raise ValidationFailed(name_message(code, field), field=field)
    return value


# --- page arguments ---------------------------------------------------------------------------------


class BadArgument(AppError):
    """A query-string argument that is not what the page takes (400, naming the argument)."""

    code = "bad_argument"
    status = 400


def int_arg(args, name: str, default: int | None = None) -> int | None:
    """An id-like integer argument (1 to 2^63-1) from `args` (request.args); blank or absent: `default`."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise BadArgument(_("“%(name)s” must be a whole number from 1 to %(max)s.", name=name, max=MAX_ID), field=name)
    return int(raw)


def date_arg(args, name: str) -> date | None:
    """A YYYY-MM-DD argument between 1900 and 2999; blank or absent: None."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        value = None
    if value is None or not FIRST_DATE <= value <= LAST_DATE:
        raise BadArgument(
            _("“%(name)s” must be a date written YYYY-MM-DD, between 1900 and 2999.", name=name), field=name
        )
    return value


# --- pydantic errors --------------------------------------------------------------------------------


def _message(err: ErrorDetails) -> tuple[str, str]:
    t = err["type"]
    ctx = err.get("ctx") or {}
    if t == "value_error":
        code = str(ctx.get("error", "")).strip()
        if code in ("invisible_name", "bidi_control", "control_character"):
            field = str(err["loc"][-1]) if err.get("loc") else None
            return code, name_message(code, field)
        return code, {
            "bad_mobile": _("Enter an 11-digit mainland mobile number, such as 13800138000."),
            "bad_id_number": _("This ID number is not valid: check the 18 characters (the last may be X)."),
        }.get(code, _("This value is not valid."))
    if err.get("input", ...) is None and (t.endswith("_type") or t in ("literal_error", "enum")):
        return "not_null", _("This field cannot be null: give a value, or leave the field out.")
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
