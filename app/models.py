"""Imports every area's models so Alembic and the app see the whole schema."""

from app.audit.models import AuditEvent
from app.auth.models import RoleGrant, User, UserSession
from app.db import Base
from app.people.models import GridAssignment, ImportJob, Member
from app.places.models import District, OrgUnit

__all__ = ["Base", "AuditEvent", "RoleGrant", "User", "UserSession", "GridAssignment", "ImportJob", "Member", "District", "OrgUnit"]
