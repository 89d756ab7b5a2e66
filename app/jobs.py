"""Background and scheduled work (member imports today; automatic check-out, points expiry next), on Huey.

A task is enqueued only after the transaction that created its work has committed (`enqueue_after_commit`,
on app.db's after-commit hook), so a worker never looks for rows that are not there yet. Tasks take plain
values (ids), keep their state in the database (readable from any process) and run in their own units of
work. Storage: a SQLite file under instance/ by default, Redis when REDIS_URL is set. The worker is
`huey_consumer app.worker.huey` (`make run` starts one beside the web server); it also runs the periodic
tasks. Tests switch `huey.immediate` on: a task then runs at once, in the enqueuing process.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import RedisHuey, SqliteHuey, crontab  # noqa: F401  (crontab: for the areas' periodic tasks)
from sqlalchemy.orm import Session

from app.db import after_commit

ROOT = Path(__file__).resolve().parent.parent


def make_huey():
    url = os.environ.get("REDIS_URL")
    # results=False: a task's outcome is written to the database by the task itself, never read back
    # from the queue (kept results would pile up in the queue's storage).
    if url:
        return RedisHuey("aixin", url=url, results=False)
    path = Path(os.environ.get("HUEY_FILE") or ROOT / "instance" / "huey.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("aixin", filename=str(path), results=False)


huey = make_huey()
_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    """The worker's app (app/worker.py builds it once per worker process)."""
    global _worker_app
    _worker_app = app


def flask_app() -> Flask:
    """The app a task runs in: the enqueuing one (immediate mode, tests), or the worker's."""
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _worker_app is None:
        raise RuntimeError("no app for this task: start the worker with `huey_consumer app.worker.huey`")
    return _worker_app


def enqueue_after_commit(session: Session, task, *args) -> None:
    """Enqueue `task(*args)` once `session` commits; nothing is enqueued if it rolls back."""
    after_commit(session, lambda: task(*args))
