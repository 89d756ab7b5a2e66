"""What the audit log page calls each event kind and each detail key, in the reader's language.

Event kinds are named by each area's `Area.audit_labels`; detail keys and target types are
registered here (`register_detail`, `register_target`; an area with its own keys registers them in its
`Area.setup`, as places does for unit kinds). A detail key may name an object (`refers_to`: "member",
"org_unit" or "user"), which the page shows by name and place; or have a small set of coded values
(`values`), shown by their labels; or a number shown in a unit (`format`: fen as yuan, say). Anything
not registered is shown as it is stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import select


@dataclass(frozen=True)
class DetailKey:
    label: object  # a lazy translated string
    # "member" | "org_unit" | "user", or a target type an area names (register_target_names): the value
    # is that object's id, shown by its name
    refers_to: str | None = None
    values: dict = field(default_factory=dict)  # stored value -> lazy label
    format: Callable[[int], str] | None = None  # a stored whole number -> its text (fen -> "¥1,234.50")


DETAIL_KEYS: dict[str, DetailKey] = {}
TARGET_LABELS: dict[str, object] = {}
# target type -> (session, tenant id, ids) -> {id: its name}: how the log names an area's objects
# (an activity by its title, an outlet by its name), one query per type on a page.
TARGET_NAMES: dict[str, Callable] = {}
# Stand-ins services write instead of personal data (see app/people/services.PERSONAL_FIELDS).
PLACEHOLDERS = {"(changed)": _l("changed (value not logged)"), "(removed)": _l("removed")}


def register_detail(
    key: str,
    label,
    *,
    refers_to: str | None = None,
    values: dict | None = None,
    action: str | None = None,
    format: Callable[[int], str] | None = None,  # noqa: A002 (the dataclass field's name)
) -> None:
    """Label a detail key; with `action`, only in that kind of event (where the key means something else)."""
    DETAIL_KEYS[f"{action}:{key}" if action else key] = DetailKey(
        label, refers_to, dict(values) if type(values) is dict else (values or {}), format
    )


def detail_key(action: str | None, key: str) -> DetailKey | None:
    return DETAIL_KEYS.get(f"{action}:{key}") or DETAIL_KEYS.get(key)


def register_target(target_type: str, label) -> None:
    TARGET_LABELS[target_type] = label


def register_target_names(target_type: str, names: Callable) -> None:
    """`names(session, tenant_id, ids) -> {id: name}`: the page shows the object's name, not its number
    (an area registers it in its setup, where it may import its models)."""
    TARGET_NAMES[target_type] = names


def names_from(model, name_column) -> Callable:
    """A `register_target` namer reading `name_column` of `model` rows (which carry a tenant_id)."""

    def names(session, tenant_id: int, ids) -> dict[int, str]:
        rows = session.execute(
            select(model.id, name_column).where(model.tenant_id == tenant_id, model.id.in_(sorted(ids)))
        )
        return {i: str(n) for i, n in rows}

    return names


class _RoleLabels(dict):
    """Every role kind by its registered label (app/access.ROLE_KINDS, filled as areas set up), with the
    grid assignment roles; looked up when a page is read, so roles registered later are named too."""

    def get(self, key, default=None):
        from app.access import ROLE_KINDS

        kind = ROLE_KINDS.get(key) if isinstance(key, str) else None
        return kind.label if kind is not None else super().get(key, default)


# --- shared keys of auth, people, places, demo -------------------------------------------------------------------


for _type, _label in {
    "member": _l("Member"),
    "user": _l("User"),
    "org_unit": _l("Org unit"),
    "district": _l("District"),
}.items():
    register_target(_type, _label)

_ROLE_VALUES = _RoleLabels(
    {
        "party_member": _l("Responsible party member (包格联户)"),
        "grid_worker": _l("Grid worker"),
        "building_head": _l("Building head"),
    }
)
_STATUS_VALUES = {"active": _l("Active"), "suspended": _l("Suspended"), "left": _l("Left")}
_YES_NO = {True: _l("Yes"), False: _l("No")}

register_detail("grid_id", _l("Grid"), refers_to="org_unit")
register_detail("org_unit_id", _l("Unit"), refers_to="org_unit")
register_detail("parent_id", _l("Parent unit"), refers_to="org_unit")
register_detail("from_parent_id", _l("Moved from"), refers_to="org_unit")
register_detail("to_parent_id", _l("Moved to"), refers_to="org_unit")
register_detail("checkin_community_id", _l("Check-in (报到) community"), refers_to="org_unit")
register_detail("member_id", _l("Member"), refers_to="member")
register_detail("assignment_id", _l("Assignment number"))
register_detail("role", _l("Role"), values=_ROLE_VALUES)
register_detail("status", _l("Status"), values=_STATUS_VALUES)
register_detail("name", lazy_pgettext("a thing's", "Name"))  # a unit's, a site's, an outlet's: 名称, not 姓名
register_detail("name", _l("Name"), action="member.update")  # a person's
register_detail("mobile", _l("Mobile number"))
register_detail("id_number", _l("ID number (身份证)"))
register_detail("party_org", _l("Party organisation (党组织)"))
for _key, _label in {
    "is_volunteer": _l("Volunteer"),
    "is_party_member": _l("Party member"),
    "is_grid_worker": _l("Grid worker (网格员)"),
    "is_building_head": _l("Building head (楼栋长)"),
}.items():
    register_detail(_key, _label, values=_YES_NO)
register_detail("changed", _l("Changes"))
register_detail("from", _l("From"))  # an assignment's first day
register_detail("to", _l("Until"))  # an assignment's last day
register_detail("from", _l("Old name"), action="org.rename")
register_detail("to", _l("New name"), action="org.rename")
register_detail("mobile_tail", _l("Mobile ending"))
register_detail(
    "reason",
    _l("Reason"),
    values={
        "unknown_mobile": _l("No such account"),
        "wrong_password": _l("Wrong password"),
        "member_suspended": _l("Member suspended"),
        "member_left": _l("Member has left"),
    },
)
register_detail("limit", _l("Limit"))
register_detail("invitation_id", _l("Sign-in link number"))
register_detail("expires_at", _l("Valid until"))
register_detail("purpose", _l("Link for"), values={"activate": _l("First sign-in"), "reset": _l("Password reset")})
register_detail("filename", _l("File"))
register_detail("rows", _l("Rows"))
register_detail("imported", _l("Imported"))
register_detail("wallets", _l("Wallets opened"))
register_detail("filter", _l("Filter"))
register_detail("q", _l("Search"))
register_detail("grid", _l("Grid"), refers_to="org_unit")
register_detail(
    "tag",
    _l("Tag"),
    values={
        "volunteer": _l("Volunteer"),
        "party_member": _l("Party member"),
        "grid_worker": _l("Grid worker"),
        "building_head": _l("Building head"),
    },
)
register_detail("seed", _l("Seed"))
register_detail("units", _l("Units"))
register_detail("members", _l("Members"))
register_detail("assignments", _l("Assignments"))
register_detail("before", _l("Before"))
register_detail("after", _l("After"))
register_detail("scope", _l("Scope"), action="role.grant")
