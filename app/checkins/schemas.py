"""The checkins API's request and response bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.api.schemas import Day, Id, Page, PageQuery, utc

from .labels import SOURCES, VISIT_STATUSES

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    unit_id: Id = Field(description="The community or area grid (片区网格) the site belongs to")
    name: str = Field(default="", max_length=100, description="Empty: the unit's name")
    lat: Latitude | None = None
    lng: Longitude | None = None
    radius_m: int | None = Field(default=None, ge=10, le=5000, description="Check the location within this")


class SiteOut(BaseModel):
    id: int
    unit_id: int
    unit_name: str
    name: str
    lat: float | None
    lng: float | None
    radius_m: int | None
    active: bool

    @classmethod
    def of(cls, s) -> SiteOut:
        return cls(
            id=s.id,
            unit_id=s.org_unit_id,
            unit_name=s.org_unit.name,
            name=s.name,
            lat=s.lat,
            lng=s.lng,
            radius_m=s.radius_m,
            active=s.active,
        )


class SitePage(Page):
    items: list[SiteOut]


class SiteScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str = Field(min_length=1, max_length=120, description="The scanned site poster or site code")
    lat: Latitude | None = Field(default=None, description="The phone's position (needed when the site has a radius)")
    lng: Longitude | None = None


class CheckinOut(BaseModel):
    id: int
    site_id: int
    site_name: str
    day: Day = Field(description="Beijing calendar day")
    checked_in_at: AwareDatetime
    source: Literal[SOURCES]  # type: ignore[valid-type]
    distance_m: int | None
    own_community: bool
    points: int = Field(description="Points posted")
    points_cut: int = Field(description="Points the monthly cap cut off")
    monthly_cap: int | None

    @classmethod
    def of(cls, c) -> CheckinOut:
        return cls(
            id=c.id,
            site_id=c.site_id,
            site_name=c.site.name,
            day=c.day,
            checked_in_at=utc(c.checked_in_at),
            source=c.source,
            distance_m=c.distance_m,
            own_community=c.own_community,
            points=c.points,
            points_cut=c.points_cut,
            monthly_cap=c.monthly_cap,
        )


class SiteScanOut(BaseModel):
    code: Literal["checked_in", "cap_reached"] = Field(
        description="checked_in; cap_reached: recorded, but the monthly cap cut some or all of its points"
    )
    message: str = Field(description="What happened, in the user's language")
    checkin: CheckinOut


class CheckinPage(Page):
    items: list[CheckinOut]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    grid_id: Id = Field(description="A grid you are responsible for (包格联户) on that date")
    visit_date: Day
    households: int = Field(ge=1, le=200)
    note: str = Field(default="", max_length=200)


class VisitOut(BaseModel):
    id: int
    member_id: int
    member_name: str
    grid_id: int
    grid_name: str
    visit_date: Day
    households: int
    note: str
    status: Literal[VISIT_STATUSES]  # type: ignore[valid-type]
    reason: str
    decided_at: AwareDatetime | None

    @classmethod
    def of(cls, v) -> VisitOut:
        return cls(
            id=v.id,
            member_id=v.member_id,
            member_name=v.member.name,
            grid_id=v.grid_id,
            grid_name=v.grid.name,
            visit_date=v.visit_date,
            households=v.households,
            note=v.note,
            status=v.status,
            reason=v.reason,
            decided_at=utc(v.decided_at) if v.decided_at else None,
        )


class VisitPage(Page):
    items: list[VisitOut]


class VisitQuery(PageQuery):
    scope: Literal["mine", "queue"] = Field(
        default="mine", description="mine: your own visits; queue: visits waiting in the grids you admin"
    )


class VisitDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    confirm: bool
    reason: str = Field(default="", max_length=200, description="Needed to reject")
