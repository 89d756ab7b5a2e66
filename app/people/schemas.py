"""What a member record must look like, checked once for forms, the API and Excel imports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .identity import id_checksum_ok, normalise_id_number, normalise_mobile, valid_mobile

Status = Literal["active", "suspended", "left"]
MAX_ID = 2**63 - 1  # ids are 64-bit in the database; larger numbers are refused here, not by the driver


class MemberIn(BaseModel):
    """A member as created or replaced. Messages are keys translated for the user (see messages.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64, description="Real name; any script, Chinese first-class")
    mobile: str = Field(description="Mainland mobile, 11 digits starting with 1")
    id_number: str | None = Field(default=None, description="身份证 number (18 characters); stored only hashed and masked")
    grid_id: int = Field(ge=1, le=MAX_ID, description="Residence grid (an org unit of kind grid or building)")
    status: Status = "active"
    is_volunteer: bool = True
    is_party_member: bool = False
    party_org: str | None = Field(default=None, max_length=100, description="党组织 / 党支部")
    checkin_community_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                             description="The community a party member reports to (报到)")
    is_grid_worker: bool = False
    is_building_head: bool = False

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
    """A partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=64)
    mobile: str | None = None
    id_number: str | None = None
    grid_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    status: Status | None = None
    is_volunteer: bool | None = None
    is_party_member: bool | None = None
    party_org: str | None = Field(default=None, max_length=100)
    checkin_community_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    is_grid_worker: bool | None = None
    is_building_head: bool | None = None

    _mobile = field_validator("mobile", mode="before")(lambda v: None if v is None else MemberIn._mobile(v))
    _id_number = field_validator("id_number", mode="before")(lambda v: MemberIn._id_number(v))
