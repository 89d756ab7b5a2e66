"""auth: users, server-side sessions, sign-in, passwords, and role grants (who may do what, where).

The permission check itself is app/access.py, below every area; this area registers the role kinds
scoped below the district (later areas register their own, e.g. outlet_staff with outlets)."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, RoleDef
from app.signals import member_changing, member_deactivated


def _setup(app: Flask) -> None:
    from .login import init_login
    from .services import end_sessions_of_deactivated, refuse_change_beyond_reach

    init_login(app)
    member_deactivated.connect(end_sessions_of_deactivated)
    member_changing.connect(refuse_change_beyond_reach)


AREA = Area(
    name="auth",
    blueprints=["app.auth.blueprint:bp"],
    roles=[
        RoleDef("organiser", _l("Organiser"), "org_unit"),
        RoleDef("grid_admin", _l("Grid administrator"), "org_unit"),
        RoleDef("fund_manager", _l("Fund manager")),
        RoleDef("fund_approver", _l("Fund approver")),
    ],
    actions=[Action("role.grant")],
    audit_labels={
        "signin.success": _l("Signed in"),
        "signin.failure": _l("Sign-in failed"),
        "signin.throttled": _l("Sign-in throttled"),
        "signout": _l("Signed out"),
        "password.change": _l("Password changed"),
        "role.grant": _l("Role granted"),
        "role.revoke": _l("Role revoked"),
        "session.expired": _l("Session expired"),
        "invitation.activate": _l("Sign-in link made"),
        "invitation.reset": _l("Password reset (link made)"),
        "invitation.use": _l("Sign-in link used"),
    },
    commands=["app.auth.cli:auth_cli"],
    setup=_setup,
)
