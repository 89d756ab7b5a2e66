"""What a member record must look like, checked once for forms, the API and Excel imports."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.api.schemas import Id, Page, PageQuery, utc
from app.validation import MAX_ID, check_name

from .identity import id_checksum_ok, normalise_id_number, normalise_mobile, valid_mobile
from .models import mask_mobile, member_tags

Status = Literal["active", "suspended", "left"]  # labels.STATUSES (a test keeps the two the same)


def _not_null(schema: dict) -> None:
    """A patch field that may be left out but not set to null: no default in the document."""
    schema.pop("default", None)


class MemberIn(BaseModel):
    """A member as created or replaced. Messages are keys translated for the user (see messages.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64, description="Real name; any script, Chinese first-class")
    mobile: str = Field(description="Mainland mobile, 11 digits starting with 1")
    id_number: str | None = Field(
        default=None, description="身份证 number (18 characters); stored only hashed and masked"
    )
    grid_id: int = Field(ge=1, le=MAX_ID, description="Residence grid (an org unit of kind grid or building)")
    status: Status = "active"
    is_volunteer: bool = True
    is_party_member: bool = False
    party_org: str | None = Field(default=None, max_length=100, description="党组织 / 党支部")
    checkin_community_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The community a party member reports to (报到)"
    )
    is_grid_worker: bool = False
    is_building_head: bool = False

    # After trimming: no control, format or direction characters, and something visible.
    _name = field_validator("name", "party_org")(check_name)

    @field_validator("mobile", mode="before")
    @classmethod
    def _mobile(cls, v):
        v = normalise_mobile(v)
        if not valid_mobile(v):
            raise ValueError("bad_mobile")
        return v

    @field_validator("id_number", mode="before")
    @classmethod
    def _id_number(cls, v):
        if v is None or str(v).strip() == "":
            return None
        v = normalise_id_number(v)
        if not id_checksum_ok(v):
            raise ValueError("bad_id_number")
        return v


class MemberPatch(BaseModel):
    """A partial update: only the fields given change. A field the member must have (name, mobile,
    grid, status, the yes/no fields) may be left out but not set to null; id_number, party_org and
    checkin_community_id may be null (removed)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # `= None` without `| None`: absent is allowed (the field stays), an explicit null is a 422. Pydantic's
    # typing has no way to say so, hence the type: ignore on those fields.
    name: str = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=64, json_schema_extra=_not_null
    )
    mobile: str = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    id_number: str | None = None
    grid_id: int = Field(default=None, ge=1, le=MAX_ID, json_schema_extra=_not_null)  # type: ignore[assignment]
    status: Status = Field(default=None, json_schema_extra=_not_null)  # type: ignore[arg-type]
    is_volunteer: bool = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    is_party_member: bool = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    party_org: str | None = Field(default=None, max_length=100)
    checkin_community_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    is_grid_worker: bool = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    is_building_head: bool = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]

    _name = field_validator("name", "party_org")(check_name)
    _mobile = field_validator("mobile", mode="before")(lambda v: v if v is None else MemberIn._mobile(v))
    _id_number = field_validator("id_number", mode="before")(lambda v: MemberIn._id_number(v))


# --- the JSON API's member schemas (MemberIn and MemberPatch above are its input too) -------------

Tag = Literal["volunteer", "party_member", "grid_worker", "building_head"]


class MemberQuery(PageQuery):
    q: str = Field(
        default="", max_length=64, description="Name prefix, the last 4 digits of the mobile, or the whole mobile"
    )
    grid_id: Id | None = Field(default=None, description="Only members living in this unit's subtree")
    tag: Tag | None = None
    status: Status | None = None


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
        """From a Member, or from a row of services.search_rows_page (the same column names)."""
        return cls(
            id=m.id,
            name=m.name,
            mobile_masked=mask_mobile(m.mobile),
            id_number_masked=m.id_number_masked,
            grid_id=m.grid_id,
            status=m.status,
            is_volunteer=m.is_volunteer,
            is_party_member=m.is_party_member,
            party_org=m.party_org,
            checkin_community_id=m.checkin_community_id,
            is_grid_worker=m.is_grid_worker,
            is_building_head=m.is_building_head,
            tags=cast("list[Tag]", member_tags(m)),
            created_at=utc(m.created_at),
            updated_at=utc(m.updated_at),
        )


class MemberPage(Page):
    items: list[MemberOut]


class MyQrOut(BaseModel):
    """What the member shows at an outlet's counter: the QR code's token (a fresh one every step) and the
    short code read out when a camera cannot scan."""

    token: str = Field(description="The member QR token (AX1.M…); staff scan it, or send it as member_token")
    short_code: str = Field(description="6–8 characters; staff type it, or send it as member_code; pays once")
    refresh_in: int = Field(description="Seconds until a fresh token is due")
    valid_for: int = Field(description="Seconds a token is accepted after it is made")
