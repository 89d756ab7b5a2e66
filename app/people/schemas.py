"""What a member record must look like, checked once for forms, the API and Excel imports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.validation import MAX_ID, check_name

from .identity import id_checksum_ok, normalise_id_number, normalise_mobile, valid_mobile

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
