"""Shared fixtures: real databases built by Alembic, one per dialect, and a rolled-back session per test.

Every ledger-level test runs on SQLite and, when TEST_DATABASE_URL names a PostgreSQL database, on
PostgreSQL too. Without it the PostgreSQL runs are skipped with the reason; CI sets
AIXIN_REQUIRE_ALL=1, which turns any skip into a failure.
"""

from __future__ import annotations

import itertools
import os
import random
import tempfile

import pytest

# Background jobs (app/jobs.py): queue storage in a scratch file, never the developer's instance/huey.db,
# and never Redis even where REDIS_URL is set. Tests run tasks in Huey's immediate mode (see the `app`
# fixture); tests/integration/test_jobs.py also runs a real worker process on this file.
# (This module is imported twice, as conftest and as tests.conftest: the file is chosen once.)
if os.environ.get("AIXIN_TEST_HUEY_FILE") != os.environ.get("HUEY_FILE"):
    os.environ["HUEY_FILE"] = os.environ["AIXIN_TEST_HUEY_FILE"] = os.path.join(
        tempfile.mkdtemp(prefix="aixin-huey-"), "huey.db"
    )
os.environ.pop("REDIS_URL", None)
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import make_engine
from config import ROOT, database_url
from ledger import Ledger

PG_URL = os.environ.get("TEST_DATABASE_URL")
PG_SKIP_REASON = "PostgreSQL tests need TEST_DATABASE_URL=postgresql://user@host/db (CI sets it)"


def migrate(url: str) -> None:
    """Build the schema exactly as production does: `alembic upgrade head`."""
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    url = database_url(PG_URL)
    reset_postgres(url)
    migrate(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """The URL of a migrated database; the test runs once per dialect."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture(scope="session")
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_engine(postgres_url):
    """PostgreSQL only, for tests about real concurrency between connections."""
    eng = make_engine(postgres_url, pool_size=30, max_overflow=250)
    yield eng
    eng.dispose()


_tenants = itertools.count(random.randint(1_000_000, 2**40))


@pytest.fixture
def tenant() -> int:
    """A tenant id no other test uses: ledger history is append-only, so tests are kept apart by tenant."""
    return next(_tenants)


@pytest.fixture
def session(engine):
    """A session inside a transaction that is rolled back after the test (savepoint per test)."""
    conn = engine.connect()
    outer = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint")
    yield sess
    sess.close()
    outer.rollback()
    conn.close()


@pytest.fixture
def book(session, tenant) -> Ledger:
    return Ledger(session, tenant=tenant)


TEST_CONFIG = {
    "ENV": "test",
    "SECRET_KEY": "test-secret-key",
    "RATELIMIT_STORAGE_URI": "memory://",
    "PASSWORD_HASH_FAST": True,
}


@pytest.fixture
def app(engine, db_url, request):
    """The Flask app on the test database, sharing one savepoint session with the test (as
    pypi/warehouse's functional tests do): every request and `unit_of_work` commits a savepoint on one
    connection whose outer transaction is rolled back after the test, so nothing a test writes stays.

    Tests marked `commits` get an app whose requests commit for real (a live server in another thread,
    background jobs, several connections at once); they stay apart by district."""
    from sqlalchemy.orm import sessionmaker

    from app import create_app
    from app.jobs import huey

    # Immediate mode: a task runs in this process the moment it is enqueued (after the request's
    # commit), so a test sees its outcome on the next request. Honest for what the job does; the
    # queue and the worker process are tested on real storage in tests/integration/test_jobs.py.
    huey.immediate = True
    config = {**TEST_CONFIG, "DATABASE_URL": db_url, "ENGINE": engine}
    if request.node.get_closest_marker("commits"):
        yield create_app(config)
        return
    conn = engine.connect()
    outer = conn.begin()
    config["SESSION_FACTORY"] = sessionmaker(
        bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield create_app(config)
    outer.rollback()
    conn.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def town(app):
    """A committed district with a small grid and one signed-up user per role (see tests/factories.py)."""
    from app.db import unit_of_work
    from tests.factories import make_town

    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            t = make_town(s)
    return t


def once_from(html: str, prefix: str = "") -> str:
    """A form's one-time key (app/forms.OnceForm) from the page that shows the form."""
    import re

    m = re.search(rf'name="{prefix}once" type="hidden" value="([^"]+)"', html)
    assert m, "no one-time key on the page"
    return m.group(1)


def csrf_from(html: str) -> str:
    import re

    m = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html
    )
    assert m, "no CSRF token on the page"
    return m.group(1)


def sign_in(client, town, role: str):
    """Sign in through the real form (CSRF token and all); returns the member."""
    member, mobile, password = town.users[role]
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": mobile,
            "password": password,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return member


def pytest_sessionfinish(session, exitstatus):
    """In CI (AIXIN_REQUIRE_ALL=1) a skipped test fails the run: nothing may silently not run."""
    if os.environ.get("AIXIN_REQUIRE_ALL") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"AIXIN_REQUIRE_ALL=1: {len(skipped)} test(s) were skipped; CI requires every test to run", red=True
        )
        session.exitstatus = 1
