"""Role kinds and the one permission check every page and API call uses.

A role grant is scoped: organiser and grid_admin to an org-unit subtree, the others to the whole
district. Other districts are invisible to everyone. To add a role kind (outlet_staff comes with
outlets), register it with `register_role`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, true

from app.db import starts_with
from app.errors import Forbidden, NotFound

# Every action a page or API call can ask about.
ACTIONS = (
    "org.view", "org.edit",
    "member.view", "member.edit", "member.import", "member.export",
    "assignment.edit", "role.grant", "audit.view", "ledger.view",
)


@dataclass(frozen=True)
class RoleKind:
    name: str
    label: object  # a lazy translated string
    scope: str | None  # "org_unit" = granted on a subtree; None = the whole district
    actions: frozenset[str]


ROLE_KINDS: dict[str, RoleKind] = {}


def register_role(name: str, label, scope: str | None, actions) -> RoleKind:
    unknown = set(actions) - set(ACTIONS)
    if unknown:
        raise ValueError(f"unknown actions for role {name}: {sorted(unknown)}")
    kind = RoleKind(name, label, scope, frozenset(actions))
    ROLE_KINDS[name] = kind
    return kind


register_role("organiser", _l("Organiser"), "org_unit", {"org.view", "member.view"})
register_role("grid_admin", _l("Grid administrator"), "org_unit",
              {"org.view", "org.edit", "member.view", "member.edit", "member.import", "member.export",
               "assignment.edit"})
register_role("fund_manager", _l("Fund manager"), None, {"org.view", "member.view"})
register_role("fund_approver", _l("Fund approver"), None, {"org.view", "member.view"})
register_role("district_admin", _l("District administrator"), None, set(ACTIONS))
register_role("auditor", _l("Auditor"), None,
              {"org.view", "member.view", "member.export", "audit.view", "ledger.view"})


@dataclass(frozen=True)
class Scope:
    """Where one of a user's grants applies: the whole district (path None) or a subtree."""

    role: str
    path: str | None


def scopes_for(principal, action: str) -> list[Scope]:
    return [s for s in principal.scopes if action in ROLE_KINDS[s.role].actions]


def can(principal, action: str, target=None) -> bool:
    """May `principal` do `action` on `target` (an OrgUnit, a Member, or None for "anywhere")?"""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return False
    if target is not None and getattr(target, "tenant_id", None) != principal.tenant_id:
        return False
    if target is not None and action == "member.view" and getattr(target, "id", None) == principal.member_id \
            and target.__class__.__name__ == "Member":
        return True  # everyone may see their own member page
    scopes = scopes_for(principal, action)
    if target is None:
        return bool(scopes)
    path = _path_of(target)
    return any(s.path is None or (path is not None and path.startswith(s.path)) for s in scopes)


def can_see(principal, target) -> bool:
    """Visibility: some read action reaches the target (used to answer 404 rather than 403)."""
    return can(principal, "member.view" if target.__class__.__name__ == "Member" else "org.view", target)


def require(principal, action: str, target=None) -> None:
    """Raise NotFound when the target is invisible to the user, Forbidden when visible but not allowed."""
    if can(principal, action, target):
        return
    if target is not None and not can_see(principal, target):
        raise NotFound(str(_l("Not found. It may have been moved, or you may not have access to it.")))
    raise Forbidden(str(_l("You do not have permission to do this.")))


def path_filter(principal, action: str, path_column):
    """A SQL condition limiting rows (by an org-unit path column) to where the user may `action`."""
    scopes = scopes_for(principal, action)
    if any(s.path is None for s in scopes):
        return true()
    if not scopes:
        return false()
    return or_(*[starts_with(path_column, s.path) for s in scopes])


def _path_of(target) -> str | None:
    if hasattr(target, "path"):
        return target.path
    grid = getattr(target, "grid", None)
    return grid.path if grid is not None else None
