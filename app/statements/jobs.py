"""The month-end statement: a daily job that signs the last ended Beijing month's statement of every
district that has none yet (so a month end missed while the worker was down is caught up the next day)."""

from __future__ import annotations

import logging

from app.jobs import crontab, flask_app, huey

from . import services

_log = logging.getLogger(__name__)


# 16:05 UTC = 00:05 Beijing time: on the 1st of a month, just after the month ended.
@huey.periodic_task(crontab(minute="5", hour="16"))
def month_end_statements_task() -> int:
    app = flask_app()
    with app.app_context():
        try:
            done = services.issue_month_end(app.extensions["db_sessionmaker"], app.config)
        except services.StatementError as e:  # no key in production, or one others can read: say so
            _log.error("month-end statements not signed: %s", e)
            return 0
    return sum(1 for v in done.values() if v == "issued")
