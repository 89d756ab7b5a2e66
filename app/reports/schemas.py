"""The reports API's query parameters and answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.schemas import Day, Id, Page, PageQuery


class _UnitQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    unit_id: Id = Field(description="The street, community or grid the report is about (with its subtree)")


class CheckinsQuery(_UnitQuery):
    months: int = Field(default=12, ge=1, le=24, description="How many months back, the current one included")


class MonthOut(BaseModel):
    month: str = Field(description="YYYY-MM, Beijing time")
    checkins: int
    members: int = Field(description="Different party members who checked in that month")


class CheckinsOut(BaseModel):
    unit_id: int
    unit_name: str
    months: list[MonthOut] = Field(description="Oldest first; months without check-ins are listed with 0")


class AbsentQuery(PageQuery):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    unit_id: Id = Field(description="The street, community or grid the report is about (with its subtree)")
    months: int = Field(default=6, ge=1, le=24, description="Not checked in for this many months")


class AbsentOut(BaseModel):
    member_id: int
    name: str
    grid_id: int
    last_checkin: Day | None = Field(description="Null: never checked in")
    counted_because: Literal["resides", "checkin_community", "both"] = Field(
        description="Lives in the unit's subtree, reports (报到) to a community in it, or both"
    )

    @classmethod
    def of(cls, r) -> AbsentOut:
        return cls(
            member_id=r.member_id, name=r.name, grid_id=r.grid_id, last_checkin=r.last_checkin, counted_because=r.why
        )


class AbsentPage(Page):
    since: Day = Field(description="No check-in on or after this day")
    total: int
    items: list[AbsentOut]


class CoverageQuery(_UnitQuery):
    period_from: Day | None = Field(default=None, alias="from", description="Default: 12 months before today")
    period_to: Day | None = Field(default=None, alias="to", description="Default: today (Beijing)")

    @model_validator(mode="after")
    def _in_order(self):
        if self.period_from and self.period_to and self.period_from > self.period_to:
            raise ValueError("from must not be after to")
        return self


class GridOut(BaseModel):
    grid_id: int
    name: str
    party_members: int = Field(description="Responsible party members (包格联户) today")
    households: int = Field(description="Households covered by confirmed visits in the period")


class CoverageOut(BaseModel):
    unit_id: int
    unit_name: str
    period_from: Day
    period_to: Day
    grids: int
    covered_grids: int
    households: int
    items: list[GridOut]
