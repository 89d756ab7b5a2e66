"""The gridreports API's request and response bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Base64Bytes, BaseModel, ConfigDict, Field

from app.api.schemas import Id, Page, PageQuery, utc

from .labels import CATEGORIES, MAX_TEXT, STATUSES

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Literal[CATEGORIES] = Field(description="hazard, environment, dispute, facility or other")  # type: ignore[valid-type]
    text: str = Field(min_length=5, max_length=MAX_TEXT, description="What the problem is and where")
    grid_id: Id | None = Field(default=None, description="The grid (empty: your own grid)")
    lat: Latitude | None = None
    lng: Longitude | None = None
    photos: list[Base64Bytes] = Field(
        default=[],
        max_length=3,
        description="Up to 3 photos (JPEG, PNG, WebP or HEIC), each base64-encoded; checked, shrunk and stored "
        "as the page's are. The whole body is at most 16 MB.",
    )


class ReportOut(BaseModel):
    id: int
    grid_id: int
    grid_name: str
    reporter_member_id: int
    reporter_name: str
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    text: str
    lat: float | None
    lng: float | None
    photos: int = Field(description="How many photos it has")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    status_text: str = Field(description="The status in words, in the user's language")
    reason: str
    duplicate_of_id: int | None
    points: int = Field(description="Points credited on verification")
    created_at: AwareDatetime
    triaged_at: AwareDatetime | None

    @classmethod
    def of(cls, r) -> ReportOut:
        from .labels import STATUS_LABELS

        return cls(
            id=r.id,
            grid_id=r.grid_id,
            grid_name=r.grid.name,
            reporter_member_id=r.reporter_member_id,
            reporter_name=r.reporter.name,
            category=r.category,
            text=r.text,
            lat=r.lat,
            lng=r.lng,
            photos=len(r.photos),
            status=r.status,
            status_text=str(STATUS_LABELS[r.status]),
            reason=r.reason,
            duplicate_of_id=r.duplicate_of_id,
            points=r.points,
            created_at=utc(r.created_at),
            triaged_at=utc(r.triaged_at) if r.triaged_at else None,
        )


class ReportPage(Page):
    items: list[ReportOut]


class TriageQuery(PageQuery):
    status: Literal[STATUSES + ("all",)] = Field(  # type: ignore[valid-type]
        default="submitted", description="Which reports: submitted (waiting, oldest first) or another status, or all"
    )
    category: Literal[CATEGORIES] | None = None  # type: ignore[valid-type]


class TriagePage(Page):
    items: list[ReportOut]
    overdue_ids: list[int] = Field(description="The reports on this page waiting longer than the triage period")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=200, description="Why; the reporter reads it")


class DuplicateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    duplicate_of_id: Id = Field(description="The earlier report of the same problem")
    reason: str = Field(default="", max_length=200)
