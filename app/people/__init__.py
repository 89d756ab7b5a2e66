"""people: members (real-name residents), who serves which grid (包格联户), Excel import and export,
and members' own QR codes."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink
from app.signals import unit_retiring


def _setup(app: Flask) -> None:
    from .labels import STATUS_LABELS
    from .services import residents_keep_unit

    unit_retiring.connect(residents_keep_unit)
    from app.points.awards import register_directory, register_member_search

    from .award_directory import member_card, members_by_mobile, names_of, search_members

    register_directory(members_by_mobile, names_of)  # awards: lists by mobile, names on pages
    register_member_search(search_members, member_card)  # awards: pick a member by part of a name
    app.context_processor(lambda: {"MEMBER_STATUS_LABELS": STATUS_LABELS})


AREA = Area(
    name="people",
    blueprints=["app.people.blueprint:bp", "app.people.blueprint:api_bp"],
    actions=[
        Action("member.view", read=True, own=True),
        Action("member.edit"),
        Action("member.import"),
        Action("member.export", read=True),
        Action("assignment.edit"),
        Action("ledger.view", read=True),  # a member's points balance and statement (the points area's, later)
    ],
    grants={
        "organiser": ["member.view"],
        "grid_admin": ["member.view", "member.edit", "member.import", "member.export", "assignment.edit"],
        "fund_manager": ["member.view"],
        "fund_approver": ["member.view"],
    },
    audit_labels={
        "member.create": _l("Member added"),
        "member.update": _l("Member changed"),
        "member.import": _l("Members imported"),
        "member.export": _l("Members exported"),
        "assignment.create": _l("Grid assigned"),
        "assignment.end": _l("Grid assignment ended"),
    },
    tasks=["app.people.import_job"],
    setup=_setup,
    menu=[
        MenuLink("people.my_page", _l("My page"), personal=True),
        MenuLink("people.list_members", _l("Members"), actions=["member.view"]),
        MenuLink("people.import_members", _l("Import members"), actions=["member.import"]),
    ],
)
