"""The migration that stops keeping uploads (issue 6 item 1) deletes every file stored before it.

Run on a scratch SQLite database built by Alembic up to the revision before it: the PostgreSQL test
database is shared by the whole run and cannot be taken back a revision. The migration's statements are
plain UPDATEs and batch ALTERs, run on PostgreSQL by every test session's `alembic upgrade head`."""

from __future__ import annotations

import sqlite3

from alembic import command
from alembic.config import Config as AlembicConfig

from config import ROOT

BEFORE = "6485629e710b"
PURGE = "04763f4af831"


def test_upgrading_deletes_every_stored_upload_and_abandons_unfinished_jobs(tmp_path):
    path = tmp_path / "old.db"
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{path}")
    command.upgrade(cfg, BEFORE)
    with sqlite3.connect(path) as db:  # jobs as the old code left them
        db.execute("INSERT INTO districts (id, code, name, created_at) VALUES (1, 'T', '测试区', '2026-11-30')")
        for status in ("checking", "checked", "importing", "done", "failed"):
            db.execute(
                "INSERT INTO import_jobs (tenant_id, filename, content, status, total_rows, processed_rows, "
                "error_count, imported_count, message, created_at) "
                "VALUES (1, ?, ?, ?, 1, 0, 0, 0, '已导入', '2026-11-30 10:00:00')",
                (f"{status}.csv", "姓名,身份证号\n张伟,11010519491231002X\n".encode(), status),
            )

    command.upgrade(cfg, PURGE)

    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT filename, status FROM import_jobs").fetchall())
        assert db.execute("SELECT count(*) FROM import_jobs WHERE content IS NOT NULL").fetchone() == (0,)
    assert rows == {
        "checking.csv": "abandoned",
        "checked.csv": "abandoned",
        "importing.csv": "abandoned",
        "done.csv": "done",
        "failed.csv": "failed",
    }
