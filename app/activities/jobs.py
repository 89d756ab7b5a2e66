"""Scheduled work of the activities area: close the attendances of volunteers who never checked out,
once an activity's end plus its rule's grace period has passed (flagged; priced by the rule)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import sessionmaker

from app.db import unit_of_work
from app.jobs import crontab, flask_app, huey

from .services import close_missed_checkouts


def close_due(factory: sessionmaker, now: datetime | None = None, batch: int = 200) -> int:
    """Close every due activity, a batch per transaction (a stop mid-way loses nothing: the next run
    picks up where this one ended, since a closed activity is marked so in the same transaction)."""
    total = 0
    while True:
        with unit_of_work(factory) as s:
            n = close_missed_checkouts(s, now, limit=batch)
        total += n
        if n < batch:
            return total


@huey.periodic_task(crontab(minute="*/5"))
def close_missed_checkouts_task() -> int:
    app = flask_app()
    with app.app_context():
        return close_due(app.extensions["db_sessionmaker"])
