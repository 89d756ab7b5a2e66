"""Districts (tenants) and the org-unit tree: street → community → grid → building."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow

KINDS = ("street", "community", "grid", "building")
GRID_TYPES = ("area", "comprehensive", "basic", "micro", "dedicated", "professional")
# Which kind of unit may sit under which (None = directly under the district).
PARENT_KINDS = {"street": (None,), "community": ("street",), "grid": ("community", "grid"), "building": ("grid",)}
# How coarse each grid type is: a grid may sit under a community or under a coarser grid only
# (片区网格 → 基础网格 / 综合 / 专属 / 专业网格 → 微网格), so a 基础网格 never goes under a 微网格.
GRID_RANKS = {"area": 1, "comprehensive": 2, "basic": 2, "dedicated": 2, "professional": 2, "micro": 3}


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OrgUnit(Base):
    """A node of the district's grid. `path` is the materialised path of ids ("/3/17/204/"), so a
    subtree is one indexed prefix scan whatever its depth."""

    __tablename__ = "org_units"
    __table_args__ = (
        CheckConstraint("kind IN ('street', 'community', 'grid', 'building')", name="kind"),
        CheckConstraint("(kind = 'grid') = (grid_type IS NOT NULL)", name="grid_type_only_on_grids"),
        Index("ix_org_units_tenant_path", "tenant_id", "path"),
        Index("ix_org_units_parent_id", "parent_id"),
        Index("ix_org_units_tenant_name", "tenant_id", "name"),
        # No two live units under one parent share a name, whatever the letter case (streets: parent 0).
        Index(
            "uq_org_units_live_sibling_name",
            "tenant_id",
            text("coalesce(parent_id, 0)"),
            text("lower(name)"),
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(String(16))
    grid_type: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    # Collation "C" on PostgreSQL: a subtree (path prefix) scan uses the index whatever the collation.
    path: Mapped[str] = mapped_column(String(400).with_variant(String(400, collation="C"), "postgresql"), default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id", back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")

    view_action = "org.view"  # the permission check's read action for a unit (app/access.py)

    @property
    def scope_path(self) -> str:
        return self.path

    @property
    def active(self) -> bool:
        return self.retired_at is None

    def contains(self, other: OrgUnit) -> bool:
        """True when `other` is this unit or lies in its subtree."""
        return other.tenant_id == self.tenant_id and other.path.startswith(self.path)

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]
