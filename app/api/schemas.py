"""Pydantic schemas of the JSON API: query strings, org-unit input, outputs, pages and errors.

Member input is app.people.schemas.MemberIn / MemberPatch (the one set of member rules); these
models only describe what the API adds around them. The OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.people.schemas import Status
from app.validation import check_name

# Ids are BIGINT on PostgreSQL; a bigger number can name nothing, and would overflow the driver.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Kind = Literal["street", "community", "grid", "building"]
GridType = Literal["area", "comprehensive", "basic", "micro", "dedicated", "professional"]
Tag = Literal["volunteer", "party_member", "grid_worker", "building_head"]


class _Query(BaseModel):
    # Unknown query parameters (?lang=en, cache busters) are ignored, as pages ignore them.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    page: int = Field(default=1, ge=1, le=100_000, description="Page number, from 1")
    page_size: int = Field(default=20, ge=1, le=100, description="Items per page (at most 100)")


class OrgUnitQuery(_Query):
    q: str = Field(default="", max_length=100, description="Part of the unit's name")
    parent_id: Id | None = Field(default=None, description="Only the direct children of this unit")
    kind: Kind | None = None
    include_retired: bool = Field(default=False, description="Also list retired units")


class MemberQuery(_Query):
    q: str = Field(
        default="", max_length=64, description="Name prefix, the last 4 digits of the mobile, or the whole mobile"
    )
    grid_id: Id | None = Field(default=None, description="Only members living in this unit's subtree")
    tag: Tag | None = None
    status: Status | None = None


class OrgUnitIn(BaseModel):
    """A new org unit. The placement rules (street → community → grid → building) are the service's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    grid_type: GridType | None = Field(default=None, description="Required for grids, absent otherwise")
    parent_id: Id | None = Field(default=None, description="None only for a street (top of the district)")

    _name = field_validator("name")(check_name)


class OrgUnitPatch(BaseModel):
    """A partial update: rename, change grid type, move (parent_id) or retire (retired: true)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    grid_type: GridType | None = None
    parent_id: Id | None = Field(default=None, description="Move the unit and its subtree under this unit")
    retired: Literal[True] | None = Field(default=None, description="true retires the unit; retiring cannot be undone")

    _name = field_validator("name")(check_name)


class OrgUnitOut(BaseModel):
    id: int
    name: str
    kind: Kind
    grid_type: GridType | None
    parent_id: int | None
    path: str = Field(description='Materialised path of ids, e.g. "/3/17/204/"')
    retired: bool

    @classmethod
    def of(cls, unit) -> OrgUnitOut:
        return cls(
            id=unit.id,
            name=unit.name,
            kind=unit.kind,
            grid_type=unit.grid_type,
            parent_id=unit.parent_id,
            path=unit.path,
            retired=unit.retired_at is not None,
        )


class MemberOut(BaseModel):
    """A member as the API shows them: the mobile and 身份证 number masked, never in full."""

    id: int
    name: str
    mobile_masked: str = Field(description="e.g. 139****1234")
    id_number_masked: str | None = Field(description="e.g. 4403**********123X")
    grid_id: int
    status: Status
    is_volunteer: bool
    is_party_member: bool
    party_org: str | None
    checkin_community_id: int | None
    is_grid_worker: bool
    is_building_head: bool
    tags: list[Tag]
    created_at: AwareDatetime = Field(description="UTC, RFC 3339 (e.g. 2026-12-01T08:30:00Z)")
    updated_at: AwareDatetime = Field(description="UTC, RFC 3339")

    @classmethod
    def of(cls, m) -> MemberOut:
        return cls(
            id=m.id,
            name=m.name,
            mobile_masked=m.mobile_masked,
            id_number_masked=m.id_number_masked,
            grid_id=m.grid_id,
            status=m.status,
            is_volunteer=m.is_volunteer,
            is_party_member=m.is_party_member,
            party_org=m.party_org,
            checkin_community_id=m.checkin_community_id,
            is_grid_worker=m.is_grid_worker,
            is_building_head=m.is_building_head,
            tags=m.tags,
            created_at=_utc(m.created_at),
            updated_at=_utc(m.updated_at),
        )


def _utc(value: datetime) -> datetime:
    """Stored times are naive UTC; the API says so (a date-time without an offset is not RFC 3339)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class _Page(BaseModel):
    page: int
    page_size: int
    has_next: bool = Field(description="Whether page + 1 has items")


class OrgUnitPage(_Page):
    items: list[OrgUnitOut]


class MemberPage(_Page):
    items: list[MemberOut]


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
