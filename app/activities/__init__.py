"""activities: 志愿服务 — activities organisers publish, volunteers' sign-ups (with a waiting list),
QR check-in and check-out (rotating codes and posters), credited hours, and the organiser's review,
which asks the points area to post the volunteer's 爱心积分."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink


def _setup(app: Flask) -> None:
    from app.area import register_home_panel
    from app.audit.labels import names_from, register_target_names
    from app.notices.channels import register_kind
    from app.times import beijing

    from .labels import register_audit_words
    from .models import Activity
    from .organiser_views import organiser_panel
    from .volunteer_views import home_panel

    register_audit_words()
    register_target_names("activity", names_from(Activity, Activity.title))  # the log names it by title
    app.add_template_filter(beijing, "beijing")
    register_home_panel(app, "activities/_organiser_panel.html", organiser_panel)
    register_home_panel(app, "activities/_home_panel.html", home_panel)
    register_kind("activity.cancelled", _l("“%(title)s” (%(starts)s) was cancelled: %(reason)s"))
    register_kind("activity.moved", _l("“%(title)s” has moved: now %(starts)s at %(place)s"))
    register_kind("signup.promoted", _l("A place came free: you are now signed up for “%(title)s” (%(starts)s)"))
    register_kind("hours.approved", _l("“%(title)s”: %(hours)s hours approved, +%(points)s points"))
    register_kind(
        "hours.adjusted", _l("“%(title)s”: %(hours)s hours credited, +%(points)s points. Organiser: %(reason)s")
    )
    register_kind("hours.rejected", _l("“%(title)s”: your hours were not approved. Organiser: %(reason)s"))


AREA = Area(
    name="activities",
    blueprints=["app.activities.blueprint:bp", "app.activities.blueprint:api_bp"],
    actions=[
        Action("activity.view", read=True),
        Action("activity.edit"),
        Action("attendance.manage"),
        Action("attendance.review"),
        Action("attendance.export", read=True),
    ],
    grants={
        "organiser": ["activity.view", "activity.edit", "attendance.manage", "attendance.review", "attendance.export"],
        "grid_admin": ["activity.view"],
    },
    audit_labels={
        "activity.create": _l("Activity created"),
        "activity.update": _l("Activity changed"),
        "activity.publish": _l("Activity published"),
        "activity.cancel": _l("Activity cancelled"),
        "attendance.manual_in": _l("Checked in by hand"),
        "attendance.manual_out": _l("Checked out by hand"),
        "attendance.paper": _l("Attendance from a paper sheet"),
        "attendance.review": _l("Hours reviewed"),
    },
    tasks=["app.activities.jobs"],
    setup=_setup,
    menu=[
        MenuLink("activities.browse", _l("Activities"), personal=True),
        MenuLink("activities.my_points", _l("My points"), personal=True),
        MenuLink("activities.organise_home", _l("Activity management"), actions=["activity.view", "activity.edit"]),
    ],
)
