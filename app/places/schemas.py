"""The places area's API schemas: org units as the JSON API takes and shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.api.schemas import Id, Page, PageQuery
from app.validation import check_name

Kind = Literal["street", "community", "grid", "building"]
GridType = Literal["area", "comprehensive", "basic", "micro", "dedicated", "professional"]


class OrgUnitQuery(PageQuery):
    q: str = Field(default="", max_length=100, description="Part of the unit's name")
    parent_id: Id | None = Field(default=None, description="Only the direct children of this unit")
    kind: Kind | None = None
    include_retired: bool = Field(default=False, description="Also list retired units")


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


class OrgUnitPage(Page):
    items: list[OrgUnitOut]
