"""notices: what the system tells a member (an activity cancelled or moved, a place on the waiting list
came free, hours approved or rejected). Shown in the app; further channels (SMS, WeChat) plug in
through `channels.register_channel` and are sent after the transaction commits."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.area import Area, MenuLink


def _setup(app: Flask) -> None:
    from app.times import beijing

    app.add_template_filter(beijing, "beijing")  # notice times (the activities area registers it too)

    # The points area (below this one) tells members about awards and corrections through a hook.

    from app.points.awards import register_teller

    from .channels import register_kind
    from .services import notify_many

    register_teller(notify_many)
    register_kind("points.awarded", _l("You were awarded %(points)s points: %(reason)s"))
    register_kind("points.reversed", _l("%(points)s points were taken back (a correction): %(reason)s"))


def _unread_notices() -> int:
    """The menu's unread badge (read only where a page shows the menu)."""
    from .views import unread_notices

    return unread_notices()


AREA = Area(
    name="notices",
    blueprints=["app.notices.blueprint:bp", "app.notices.blueprint:api_bp"],
    setup=_setup,
    menu=[
        MenuLink(
            "notices.list_notices",
            _l("Notices"),
            badge=_unread_notices,
            badge_label=_l("%(n)d unread"),
            personal=True,
        )
    ],
)
