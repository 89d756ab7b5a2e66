"""Pydantic schemas every area's API shares: ids, paging, the CSRF token and the error body.

Each area keeps its own API schemas beside its other schemas (app/places/schemas.py,
app/people/schemas.py); the OpenAPI document is generated from all of them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# Ids are BIGINT on PostgreSQL; a bigger number can name nothing, and would overflow the driver.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _written_day(value):
    # Pydantic's lax mode reads a number ("0.0", 1700000000) as a Unix time: a typo would become
    # 1970-01-01 silently. A day in the API is written YYYY-MM-DD (or is already a date).
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("a day is written YYYY-MM-DD, for example 2026-12-05")


# A calendar day, as YYYY-MM-DD only (format "date" in the OpenAPI document).
Day = Annotated[date, BeforeValidator(_written_day)]


class PageQuery(BaseModel):
    # Unknown query parameters (?lang=en, cache busters) are ignored, as pages ignore them.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    page: int = Field(default=1, ge=1, le=100_000, description="Page number, from 1")
    page_size: int = Field(default=20, ge=1, le=100, description="Items per page (at most 100)")


class Page(BaseModel):
    page: int
    page_size: int
    has_next: bool = Field(description="Whether page + 1 has items")


def utc(value: datetime) -> datetime:
    """Stored times are naive UTC; the API says so (a date-time without an offset is not RFC 3339)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class CsrfTokenOut(BaseModel):
    csrf_token: str = Field(description="Send it back in the X-CSRFToken header of every POST and PATCH")


class FieldError(BaseModel):
    field: str | None = Field(description='The field, dotted for nested ones ("grid_id")')
    code: str = Field(description="Stable code, e.g. missing, too_long, bad_mobile, unknown_field")
    message: str = Field(description="What to do, in the user's language")


class ErrorBody(BaseModel):
    code: str = Field(
        description="Stable code: validation_failed, malformed_json, unsupported_media_type, "
        "csrf_failed, unauthenticated, forbidden, not_found, conflict, ..."
    )
    message: str
    field: str | None = None
    details: list[FieldError] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
