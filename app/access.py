"""The one permission check (`require`, `can`, `path_filter`) and the open registry of actions and role kinds.

This module sits below every area: areas import it, it imports no area. Each area declares its own
actions and which role kinds get them (in its `Area` record, see app/area.py). Two role kinds get
actions by rule, so an area added later needs no edit here: `district_admin` has every action and
`auditor` every read action.

A grant is scoped: a role kind with scope "org_unit" is granted on an org-unit subtree (its path),
the others on the whole district. A target object says where it sits through `scope_path` (a path
string, or None for "nowhere in the tree") and which read action makes it visible through
`view_action`; objects a member owns (their own member page) name that member in `owner_member_id`.
Other districts are invisible to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, true

from app.db import starts_with
from app.errors import Forbidden, NotFound

DISTRICT_ADMIN = "district_admin"
AUDITOR = "auditor"


@dataclass(frozen=True)
class Action:
    """Something a page or API call can ask about. `read` actions change nothing (auditors get them);
    `own` actions are also allowed on what the signed-in member owns (their own member page)."""

    name: str
    read: bool = False
    own: bool = False


@dataclass(frozen=True)
class RoleKind:
    name: str
    label: object  # a lazy translated string
    scope: str | None  # "org_unit" = granted on a subtree; None = the whole district

    @property
    def actions(self) -> frozenset[str]:
        return actions_of(self.name)


@dataclass(frozen=True)
class Scope:
    """Where one of a user's grants applies: the whole district (path None) or a subtree."""

    role: str
    path: str | None


@dataclass
class Principal:
    """The signed-in user as the permission check sees it (Flask-Login's user object; auth builds it,
    jobs rebuild it for the user who started them)."""

    token: str
    user_id: int
    member_id: int
    tenant_id: int
    name: str
    scopes: list[Scope] = field(default_factory=list)
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return self.token

    @property
    def roles(self) -> list[str]:
        return sorted({s.role for s in self.scopes})


ACTIONS: dict[str, Action] = {}
ROLE_KINDS: dict[str, RoleKind] = {}
_GRANTS: dict[str, set[str]] = {}
_actions_cache: dict[str, frozenset[str]] = {}


def register_action(name: str, *, read: bool = False, own: bool = False) -> Action:
    action = Action(name, read, own)
    if ACTIONS.get(name, action) != action:
        raise ValueError(f"action {name} is already registered differently")
    ACTIONS[name] = action
    _actions_cache.clear()
    return action


def register_role(name: str, label, scope: str | None = None) -> RoleKind:
    kind = RoleKind(name, label, scope)
    old = ROLE_KINDS.get(name)
    if old is not None and (old.scope, str(old.label)) != (scope, str(label)):
        raise ValueError(f"role kind {name} is already registered differently")
    ROLE_KINDS.setdefault(name, kind)
    _GRANTS.setdefault(name, set())
    _actions_cache.clear()
    return ROLE_KINDS[name]


def grant(role: str, actions: Iterable[str]) -> None:
    """Give a role kind some actions (each area grants its own; `check_registry` checks the names once
    every area is in, so an area may grant to a role kind another area registers)."""
    _GRANTS.setdefault(role, set()).update(actions)
    _actions_cache.clear()


def actions_of(role: str) -> frozenset[str]:
    found = _actions_cache.get(role)
    if found is None:
        if role == DISTRICT_ADMIN:
            found = frozenset(ACTIONS)
        elif role == AUDITOR:
            found = frozenset(a.name for a in ACTIONS.values() if a.read) | _GRANTS.get(role, set())
        else:
            found = frozenset(_GRANTS.get(role, ()))
        _actions_cache[role] = found
    return found


# The two role kinds whose actions come by rule; the other kinds are registered by the areas.
register_role(DISTRICT_ADMIN, _l("District administrator"))
register_role(AUDITOR, _l("Auditor"))


def scopes_for(principal, action: str) -> list[Scope]:
    return [s for s in principal.scopes if s.role in ROLE_KINDS and action in actions_of(s.role)]


def can(principal, action: str, target=None) -> bool:
    """May `principal` do `action` on `target` (anything with `tenant_id` and `scope_path`, or None for
    "anywhere")?"""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action}")
    if principal is None or not getattr(principal, "is_authenticated", False):
        return False
    if target is not None and getattr(target, "tenant_id", None) != principal.tenant_id:
        return False
    if (
        target is not None
        and ACTIONS[action].own
        and principal.member_id is not None
        and getattr(target, "owner_member_id", None) == principal.member_id
    ):
        return True
    scopes = scopes_for(principal, action)
    if target is None:
        return bool(scopes)
    path = target.scope_path
    return any(s.path is None or (path is not None and path.startswith(s.path)) for s in scopes)


def can_see(principal, target) -> bool:
    """Visibility: the target's read action reaches it (used to answer 404 rather than 403)."""
    return can(principal, target.view_action, target)


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
    return or_(*[starts_with(path_column, s.path) for s in scopes if s.path is not None])  # all are, see above


def check_registry() -> None:
    """Every grant names a registered role kind and registered actions (run once the areas are in)."""
    for role, actions in _GRANTS.items():
        if role not in ROLE_KINDS:
            raise ValueError(f"actions granted to unknown role kind {role}")
        unknown = actions - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown actions granted to {role}: {sorted(unknown)}")
