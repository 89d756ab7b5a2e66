"""/healthz, configuration from the environment, and the `flask ledger` commands operators use."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, text

from app import create_app
from app.db import make_engine, unit_of_work
from config import database_url
from ledger import Ledger, Transfer


@pytest.mark.commits  # /healthz opens a connection of its own
def test_healthz_answers_200_when_the_database_is_reachable(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "reachable"}


@pytest.mark.commits
def test_healthz_ends_its_transaction_with_commit_not_rollback(app, client):
    # psycopg forgets a connection's prepared statements on ROLLBACK: a health check every few seconds
    # that rolled back would make the signed-in requests after it on that pooled connection re-plan.
    engine = app.extensions["db_engine"]
    seen: list[str] = []
    listeners = {"commit": lambda conn: seen.append("commit"), "rollback": lambda conn: seen.append("rollback")}
    for name, fn in listeners.items():
        event.listen(engine, name, fn)
    try:
        assert client.get("/healthz").status_code == 200
    finally:
        for name, fn in listeners.items():
            event.remove(engine, name, fn)
    assert seen == ["commit"]


def _sqlite_app(url: str):
    """The app on a SQLite file of its own (not the tests' shared database)."""
    return create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "x-test",
            "DATABASE_URL": url,
            "ENGINE": make_engine(url),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def test_healthz_answers_503_when_the_database_is_not(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/dir/aixin.db"  # sqlite cannot create a file in a missing folder
    resp = _sqlite_app(url).test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "unreachable"


def test_healthz_on_sqlite_answers_while_a_writer_holds_the_write_lock(tmp_path):
    # A health check only reads: it must not queue behind an import's write lock (it would wait out the
    # 30 s busy timeout and then report the database unreachable, and a supervisor would restart the app).
    path = tmp_path / "aixin.db"
    client = _sqlite_app(f"sqlite:///{path}").test_client()
    assert client.get("/healthz").status_code == 200  # the file exists, in WAL mode
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("CREATE TABLE import_in_progress (x INTEGER)")
        resp = client.get("/healthz")
        assert (resp.status_code, resp.get_json()) == (200, {"status": "ok", "database": "reachable"})
        # The lock was really held: another writer is refused.
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_plain_postgresql_url_is_mapped_to_psycopg_3():
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///instance/x.db").endswith("/instance/x.db")


def _book_with_history(app, tenant: int) -> None:
    with app.app_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            book = Ledger(s, tenant=tenant)
            book.open_account("source:hours", unit="PT", normal="debit")
            book.open_account("member:1", unit="PT", normal="credit", no_overdraft=True)
            for i in range(3):
                book.post(
                    [Transfer("source:hours", "member:1", 10 + i)], kind="earn.hours", key=f"a:{i}", memo=f"活动{i}"
                )


def test_ledger_cli_prints_balance_statement_and_a_clean_verify(app, tenant):
    _book_with_history(app, tenant)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["ledger", "balance", "member:1", "--tenant", str(tenant)])
    assert out.exit_code == 0, out.output
    assert "posted 33" in out.output and "available 33" in out.output
    out = runner.invoke(args=["ledger", "statement", "member:1", "--tenant", str(tenant), "--limit", "2"])
    assert out.exit_code == 0, out.output
    assert "活动2" in out.output and "活动1" in out.output and "活动0" not in out.output
    assert "more: --after" in out.output
    out = runner.invoke(args=["ledger", "verify", "--tenant", str(tenant)])
    assert out.exit_code == 0, out.output
    assert "PT: posted debits 33, posted credits 33" in out.output and "sound" in out.output
    out = runner.invoke(args=["ledger", "balance", "member:404", "--tenant", str(tenant)])
    assert out.exit_code != 0 and "no such account: member:404" in out.output


def test_ledger_verify_exits_1_and_lists_the_problems_on_tampering(tmp_path, tenant):
    from tests.conftest import migrate

    url = f"sqlite:///{tmp_path}/tamper.db"
    migrate(url)
    app = create_app({"ENV": "test", "SECRET_KEY": "x-test", "DATABASE_URL": url, "RATELIMIT_STORAGE_URI": "memory://"})
    _book_with_history(app, tenant)
    # As a database owner could: drop the guard, change an amount behind the ledger's back.
    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER ledger_transfers_no_update"))
        conn.execute(text("UPDATE ledger_transfers SET amount = 99 WHERE id = (SELECT min(id) FROM ledger_transfers)"))
    out = app.test_cli_runner().invoke(args=["ledger", "verify", "--tenant", str(tenant)])
    assert out.exit_code == 1
    assert "problem" in out.output and "member:1" in out.output


def test_ledger_verify_without_a_tenant_checks_every_district(tmp_path):
    """Not just tenant 0: a tampered second district is found, and each district is named."""
    from app.places.services import create_district
    from tests.conftest import migrate

    url = f"sqlite:///{tmp_path}/districts.db"
    migrate(url)
    app = create_app({"ENV": "test", "SECRET_KEY": "x-test", "DATABASE_URL": url, "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        first, second = create_district(s, "A1", "光明区"), create_district(s, "B2", "南山区")
        first_id, second_id = first.id, second.id
    _book_with_history(app, first_id)
    _book_with_history(app, second_id)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["ledger", "verify"])
    assert out.exit_code == 0, out.output
    assert "光明区" in out.output and "南山区" in out.output and "sound in 2 district(s)" in out.output

    engine = app.extensions["db_engine"]
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER ledger_transfers_no_update"))
        conn.execute(text("UPDATE ledger_transfers SET amount = 99 WHERE id = (SELECT max(id) FROM ledger_transfers)"))
    out = runner.invoke(args=["ledger", "verify"])
    assert out.exit_code == 1, out.output
    assert f"ledger verify: district {second_id} (南山区): " in out.output and "member:1" in out.output
    assert f"ledger verify: district {first_id}" not in out.output
