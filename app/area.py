"""What an area brings to the app, in one record, and the one function that plugs it in.

An area is a package under app/ whose `__init__.py` defines `AREA = Area(...)`. `create_app` walks the
list `AREAS` in app/__init__.py and calls `install(app, AREA)` for each; app/models.py imports each
area's `models` module so Alembic sees the whole schema. Adding an area is a new package plus one
line in that list; nothing else in the house changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec

import click
from flask import Blueprint, Flask, url_for

from app import access


@dataclass(frozen=True)
class RoleDef:
    """A role kind an area introduces (see app/access.py for scope)."""

    name: str
    label: object
    scope: str | None = None


@dataclass(frozen=True)
class MenuLink:
    """One link of the signed-in menu (the same links head the home page). An area lists its own in
    `Area.menu`, so a new area never edits the shared menu template."""

    endpoint: str
    label: object
    # Shown to those who may do any of these actions (on anything in their scope); empty: everyone signed in.
    actions: Sequence[str] = ()
    # A further condition read at request time, e.g. "the member is a party member".
    when: Callable[[], bool] | None = None
    # A number shown beside the label (e.g. unread notices), and its spoken label with %(n)d.
    badge: Callable[[], int] | None = None
    badge_label: object = None
    # The user's own pages (my points, my rewards) come before the pages of their roles.
    personal: bool = False


@dataclass(frozen=True)
class Area:
    name: str
    # Blueprint objects, or "module:attribute" strings imported when the area is installed (so that
    # importing the package for its models does not pull in its views).
    blueprints: Sequence[Blueprint | str] = ()
    actions: Sequence[access.Action] = ()
    roles: Sequence[RoleDef] = ()
    grants: Mapping[str, Iterable[str]] = field(default_factory=dict)  # role kind -> actions
    audit_labels: Mapping[str, object] = field(default_factory=dict)  # audit event -> lazy label
    commands: Sequence[click.Command | str] = ()
    # Modules defining background tasks (app/jobs.py), imported so the worker knows every task.
    tasks: Sequence[str] = ()
    # Anything else the area wires up once per app: signal receivers, template filters.
    setup: Callable[[Flask], None] | None = None
    menu: Sequence[MenuLink] = ()


def _resolve(ref):
    if isinstance(ref, str):
        module, _, attr = ref.partition(":")
        return getattr(import_module(module), attr)
    return ref


def declare(area: Area) -> None:
    """Register the area's actions, role kinds and grants (idempotent). Audit labels are read from the
    installed areas by the audit log page."""
    for action in area.actions:
        access.register_action(action.name, read=action.read, own=action.own)
    for kind in area.roles:
        access.register_role(kind.name, kind.label, kind.scope)
    for role, actions in area.grants.items():
        access.grant(role, actions)


def install(app: Flask, area: Area) -> None:
    """Plug one area into one app: declarations, blueprints (pages and API), CLI, setup."""
    declare(area)
    for bp in area.blueprints:
        app.register_blueprint(_resolve(bp))
    for command in area.commands:
        app.cli.add_command(_resolve(command))
    for module in area.tasks:
        import_module(module)
    if area.setup is not None:
        area.setup(app)
    app.extensions.setdefault("menu", []).extend(area.menu)
    app.extensions.setdefault("areas", {})[area.name] = area
    app.extensions.pop("audit_labels", None)


def area_of(package: str) -> Area:
    return import_module(package).AREA


def audit_labels(app: Flask) -> dict[str, object]:
    """Every installed area's audit event labels (gathered once per app)."""
    labels = app.extensions.get("audit_labels")
    if labels is None:
        labels = {}
        for area in app.extensions.get("areas", {}).values():
            labels.update(area.audit_labels)
        app.extensions["audit_labels"] = labels
    return labels


def model_modules(packages: Iterable[str]) -> list[str]:
    """The `models` module of each area that has one (for Alembic and the app)."""
    return [f"{p}.models" for p in packages if find_spec(f"{p}.models") is not None]


def register_home_panel(app: Flask, template: str, context: Callable[[], dict | None]) -> None:
    """Put a panel on the signed-in home page: `template` is included with `panel` set to what
    `context()` returns, at request time; a context of None leaves the panel out. Areas call this
    from their `setup`, so the home page (in app/__init__.py) never imports an area."""
    app.extensions.setdefault("home_panels", []).append((template, context))


def home_panels(app: Flask) -> list[tuple[str, dict]]:
    """The panels to show on this request's home page, in the order the areas registered them."""
    shown = []
    for template, context in app.extensions.get("home_panels", []):
        panel = context()
        if panel is not None:
            shown.append((template, panel))
    return shown


def register_page_slot(app: Flask, slot: str, template: str, context: Callable[[], dict | None]) -> None:
    """Put a piece of a higher area into a named place (`slot`) of a lower area's page, the way
    `register_home_panel` does for the home page: the page includes `template` with `panel` set to
    what `context()` returns at request time (None leaves it out). Slots in use: "member_qr" (the
    member's own QR page, app/people/qr_views.py)."""
    app.extensions.setdefault("page_slots", {}).setdefault(slot, []).append((template, context))


def page_slots(app: Flask, slot: str) -> list[tuple[str, dict]]:
    """The pieces to show in `slot` on this request, in the order the areas registered them."""
    shown = []
    for template, context in app.extensions.get("page_slots", {}).get(slot, []):
        panel = context()
        if panel is not None:
            shown.append((template, panel))
    return shown


@dataclass(frozen=True)
class ShownLink:
    url: str
    label: object
    badge: int = 0
    badge_label: object = None


def menu_links(app: Flask, principal) -> list[ShownLink]:
    """The menu links `principal` may see on this request: their own pages first, then their roles'
    pages, each group in the order of AREAS. A link to a page of an area that is not installed (a test
    app with fewer areas) is left out."""
    links = app.extensions.get("menu", [])
    shown = []
    for link in sorted(links, key=lambda link: not link.personal):  # stable: AREAS order within a group
        if link.endpoint not in app.view_functions:
            continue
        if link.actions and not any(access.can(principal, action) for action in link.actions):
            continue
        if link.when is not None and not link.when():
            continue
        badge = link.badge() if link.badge is not None else 0
        shown.append(ShownLink(url_for(link.endpoint), link.label, badge, link.badge_label))
    return shown
