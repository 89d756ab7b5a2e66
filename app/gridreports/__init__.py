"""gridreports: 网格事件上报 / 有奖上报 — members report a problem in a grid from their phone (category,
text, up to 3 photos, location); the grid's admin verifies (points by the district's rule, posted by
app/points), rejects with a reason, or marks a duplicate; overdue triage is flagged; the reporter follows
the status; a summary per grid by category and status. The fund reads verified reports (it imports this
area; this area imports no fund)."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from app.access import Action
from app.area import Area, MenuLink


def register_report_action(app: Flask, template: str) -> None:
    """Let a higher area add to a report's page (e.g. the fund's "Propose a reward" on a verified report):
    `template` is included there with `report` set; it decides itself whether to show anything. The
    fund calls this from its own setup, so this area never imports the fund."""
    app.extensions.setdefault("gridreport_actions", []).append(template)


def _setup(app: Flask) -> None:
    from app.area import register_home_panel
    from app.notices.channels import register_kind

    from .labels import register_audit_words
    from .views import admin_panel, reporter_panel

    register_audit_words()
    register_home_panel(app, "gridreports/_admin_panel.html", admin_panel)
    register_home_panel(app, "gridreports/_reporter_panel.html", reporter_panel)
    register_kind("gridreport.verified", _l("Your grid report No. %(id)s was verified: +%(points)s points"))
    register_kind("gridreport.rejected", _l("Your grid report No. %(id)s was not accepted: %(reason)s"))
    register_kind("gridreport.duplicate", _l("Your grid report No. %(id)s repeats report No. %(original)s"))


AREA = Area(
    name="gridreports",
    blueprints=["app.gridreports.blueprint:bp", "app.gridreports.blueprint:api_bp"],
    actions=[
        Action("gridreport.view", read=True, own=True),
        Action("gridreport.triage"),
        Action("gridreport.settings"),  # the triage period and the points rule: district administrators
    ],
    grants={"grid_admin": ["gridreport.view", "gridreport.triage"]},
    audit_labels={
        "gridreport.submit": _l("Grid report made"),
        "gridreport.triage": _l("Grid report triaged"),
        "gridreport.setting_change": _l("Grid report triage period changed"),
    },
    setup=_setup,
    menu=[
        MenuLink("gridreports.my_reports", _l("My grid reports"), personal=True),
        MenuLink("gridreports.queue", _l("Grid reports to triage"), actions=["gridreport.triage"]),
        MenuLink("gridreports.summary_index", _l("Grid reports by grid"), actions=["gridreport.view"]),
        MenuLink("gridreports.settings", _l("Grid report settings"), actions=["gridreport.settings"]),
    ],
)
