"""A note pinned to an org unit."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id
from app.places.models import OrgUnit


class Note(Base):
    __tablename__ = "test_notes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    text: Mapped[str] = mapped_column(String(200))
    org_unit: Mapped[OrgUnit] = relationship()

    view_action = "note.view"

    @property
    def scope_path(self) -> str:
        return self.org_unit.path
