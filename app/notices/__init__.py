"""notices: what the system tells a member (an activity cancelled or moved, a place on the waiting list
came free, hours approved or rejected). Shown in the app; further channels (SMS, WeChat) plug in
through `channels.register_channel` and are sent after the transaction commits."""

from flask import Flask

from app.area import Area


def _setup(app: Flask) -> None:
    from app.times import beijing

    from .views import unread_notices

    app.add_template_filter(beijing, "beijing")  # notice times (the activities area registers it too)

    # The menu's unread badge: a function, so the count is read only where a page shows it.
    app.context_processor(lambda: {"unread_notices": unread_notices})

    # The points area (below this one) tells members about awards and corrections through a hook.
    from flask_babel import lazy_gettext as _l

    from app.points.awards import register_teller

    from .channels import register_kind
    from .services import notify_many

    register_teller(notify_many)
    register_kind("points.awarded", _l("You were awarded %(points)s points: %(reason)s"))
    register_kind("points.reversed", _l("%(points)s points were taken back (a correction): %(reason)s"))


AREA = Area(
    name="notices",
    blueprints=["app.notices.blueprint:bp", "app.notices.blueprint:api_bp"],
    setup=_setup,
)
