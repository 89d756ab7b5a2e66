"""JSON shapes of the certificates API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import MAX_ID


class CertificateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    member_id: int | None = Field(None, ge=1, le=MAX_ID, description="Whose certificate; default: yourself")
    from_: dt.date = Field(alias="from", description="First day of the period (Beijing)")
    to: dt.date = Field(description="Last day of the period (Beijing)")
    issuer_unit_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="A street or community in your scope; default: the district"
    )


class CertificateLineOut(BaseModel):
    date: dt.date
    title: str
    place: str
    minutes: int


class CertificateOut(BaseModel):
    code: str
    member_id: int
    holder_name: str
    holder_id_masked: str | None
    issuer_name: str
    period_from: dt.date
    period_to: dt.date
    total_minutes: int
    total_hours: str
    lines: list[CertificateLineOut]
    issued_at: dt.datetime = Field(description="UTC")
    pdf_sha256: str
    download_url: str
    verify_url: str


class VerifiedOut(BaseModel):
    genuine: bool
    code: str
    holder: str = Field(description="The masked name, e.g. 张*")
    issuer_name: str
    period_from: dt.date
    period_to: dt.date
    total_minutes: int
    total_hours: str
    activity_count: int
    issued_on: dt.date
