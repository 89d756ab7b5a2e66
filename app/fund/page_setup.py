"""What the fund's pages wire into the app once: the `yuan` and `yuan_plain` template filters (fen as
¥1,234.50 and 1,234.50, from integers; the outlets' pages use them too), the menu's links and the
home-page panels for fund managers, approvers and payees."""

from __future__ import annotations

from flask import Flask

from app.area import register_home_panel
from app.gridreports import register_report_action

from .money import format_yuan, yuan_text


def setup_pages(app: Flask) -> None:
    from .fund_views import approver_panel, manager_panel, payee_panel

    app.add_template_filter(format_yuan, "yuan")
    app.add_template_filter(yuan_text, "yuan_plain")
    register_home_panel(app, "fund/_manager_panel.html", manager_panel)
    register_home_panel(app, "fund/_approver_panel.html", approver_panel)
    register_home_panel(app, "fund/_payee_panel.html", payee_panel)
    register_report_action(app, "fund/_gridreport_action.html")  # "Propose a reward" on a verified report
