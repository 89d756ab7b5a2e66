"""The engine, a session per request, and the one place that commits (the unit of work)."""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, MetaData, String, bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from ledger.schema import NAMING_CONVENTION
from ledger.schema import metadata as ledger_metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC, as every timestamp is stored."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kw) -> Engine:
    """An engine with SQLite set up for safe concurrent writers (WAL, foreign keys, BEGIN IMMEDIATE).

    Bound parameters never appear in its exceptions' messages (hide_parameters): those messages
    reach logs, and parameters are mobiles, names and ID hashes."""
    kw.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Take the write lock up front: a deferred transaction that reads then writes can fail
            # with "database is locked" instead of waiting its turn. Read-only work (a page view)
            # says so and takes no lock: in WAL mode it never waits for a writer.
            if conn.get_execution_options().get("read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)


def metadatas():
    """Every MetaData whose tables the migrations create (the app's and the ledger's)."""
    return [Base.metadata, ledger_metadata]


@contextmanager
def unit_of_work(session_factory: sessionmaker) -> Iterator[Session]:
    """One transaction for a CLI command or job: commit at the end, roll back on any error."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_AFTER_COMMIT = "aixin_after_commit"
_log = logging.getLogger(__name__)


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Call `fn` once `session`'s transaction has committed, and never if it rolls back: work for later
    (a background job) must not start before the rows it reads exist, nor for rows that never will."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for fn in session.info.pop(_AFTER_COMMIT, []):
        try:
            fn()
        except Exception:  # the commit stands; a job that could not be enqueued is found by the sweep
            _log.exception("after-commit work failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint, was rolled back
        session.info.pop(_AFTER_COMMIT, None)


def ping(engine: Engine) -> bool:
    """One `SELECT 1` in a transaction of its own. It ends with COMMIT (nothing was written), not ROLLBACK:
    psycopg forgets every prepared statement of a connection on ROLLBACK, so a health check that rolled
    back would make the next requests on that pooled connection plan their queries afresh. Read-only: on
    SQLite a plain BEGIN, not the writers' BEGIN IMMEDIATE, so the check answers at once while an import
    or a long journal holds the write lock, instead of queueing behind it (up to the 30 s busy timeout)
    and then reporting the database unreachable."""
    try:
        with engine.connect() as conn:
            conn.execution_options(read_only=True)
            with conn.begin():
                conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def get_session() -> Session:
    """The request's session, opened on first use."""
    from flask import current_app, g

    if "db_session" not in g:
        from flask import request

        session = current_app.extensions["db_sessionmaker"]()
        view = current_app.view_functions.get(request.endpoint or "") if request else None
        if request and request.method in ("GET", "HEAD") and not getattr(view, "writes_on_get", False):
            # A page view only reads (GET changes nothing but where a view says so, `writes_on_get`):
            # on SQLite it takes no write lock, so pages stay quick while an import or a long journal
            # is being written.
            session.connection(execution_options={"read_only": True})
        g.db_session = session
    return g.db_session


def writes_on_get(view):
    """Mark a view whose GET writes (a download recorded in the audit log, a code issued when due): its
    request's transaction takes the write lock from the start. Decided when the session opens (the
    principal is read before the view runs), so it is a mark on the view, not a call inside it. A read
    transaction that then writes fails on SQLite as soon as another writer has committed meanwhile."""
    view.writes_on_get = True
    return view


def keep_changes_on_error() -> None:
    """Commit this request's changes even though it answers with an error status — for records that
    must survive a refusal, such as a failed sign-in in the audit log."""
    from flask import g

    g.db_commit_on_error = True


def register_session(app) -> None:
    """Commit once per request when the answer is a success; roll back otherwise."""
    from flask import g

    @app.after_request
    def _commit(response):
        session = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400 or g.pop("db_commit_on_error", False):
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_request
    def _rollback(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


class FixedStatement:
    """A statement of the per-request hot path (the signed-in principal, a site scan's reads and
    writes), run on the connection's DBAPI cursor: compiled once per dialect, here, and executed
    without SQLAlchemy's per-execution machinery (cache-key lookup, execution context, result
    metadata, row proxies), which costs several times what the driver does for these small statements
    (on PostgreSQL about 35 µs of client CPU a statement against 10 µs for psycopg itself).

    What SQLAlchemy gives every statement is kept: the connection's transaction is begun as autobegin
    would (BEGIN IMMEDIATE on SQLite, app/db.make_engine), before/after_cursor_execute listeners see
    the statement, a database error is wrapped and raised (and a lost connection invalidated) by
    SQLAlchemy's own handler, and values are converted by the column types' bind and result
    processors (SQLite stores dates and times as text). Every bound parameter must be a named
    bindparam the caller passes (no literal values in the statement). Rows come back as named tuples
    of the statement's columns.

    A statement SQLAlchemy cannot express (a data-modifying WITH, say) is given as SQL text in the
    driver's own parameter style, for the one database it is written for, with the names of its
    `columns`: it is run as it is, its values neither converted on the way in nor on the way out."""

    _CURSOR = "aixin_fixed_cursor"

    def __init__(self, statement: ClauseElement | str, columns: tuple[str, ...] = ()):
        self.statement = statement
        self._by_dialect: dict[object, tuple] = {}
        self._driver_sql: tuple | None = None
        if isinstance(statement, str):
            self._driver_sql = (statement, {}, None, (), [], namedtuple("Row", columns) if columns else None)

    def _compiled(self, dialect) -> tuple:
        found = self._by_dialect.get(dialect.name)
        if found is None and self._driver_sql is not None:
            found = self._by_dialect[dialect.name] = self._driver_sql
            self._by_dialect[("result", dialect.name)] = ()
        if found is None:
            compiled = cast(SQLCompiler, cast(ClauseElement, self.statement).compile(dialect=dialect))
            names = compiled.bind_names  # bindparam -> its name in the SQL
            # Values the statement carries itself (a LIMIT, say), under their names in the SQL.
            defaults = {names[b]: b.effective_value for b in names if not b.required}
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            bind_procs = tuple(
                (names[b], proc)
                for b in names
                if (proc := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            )
            columns = list(getattr(self.statement, "exported_columns", []))
            row = namedtuple("Row", [c.key for c in columns]) if columns else None
            found = self._by_dialect[dialect.name] = (compiled.string, defaults, order, bind_procs, columns, row)
        return found

    def _result_procs(self, dialect, columns, description) -> tuple:
        """The columns' result processors, for the column types the driver described (once)."""
        key = ("result", dialect.name)
        found = self._by_dialect.get(key)
        if found is None:
            found = self._by_dialect[key] = tuple(
                (i, proc)
                for i, (col, desc) in enumerate(zip(columns, description, strict=True))
                if (proc := col.type.dialect_impl(dialect).result_processor(dialect, desc[1])) is not None
            )
        return found

    def rows(self, conn: Connection, params: dict) -> list:
        """Execute with `params` (bindparam name -> value) and return every row."""
        dialect = conn.dialect
        sql, defaults, order, bind_procs, columns, row = self._compiled(dialect)
        if defaults or bind_procs:
            params = {**defaults, **params}
            for name, proc in bind_procs:
                params[name] = proc(params[name])
        args = tuple(params[name] for name in order) if order is not None else params
        if not conn.in_transaction():
            conn.begin()
        dbapi = conn.connection.dbapi_connection
        # One cursor per DBAPI connection, kept with it (making one costs about as much as a statement).
        cur = conn.info.get(self._CURSOR)
        if cur is None or getattr(cur, "closed", False) or cur.connection is not dbapi:
            cur = conn.info[self._CURSOR] = dbapi.cursor()  # type: ignore[union-attr]
        events = conn._has_events or conn.engine._has_events
        got: Any = ()
        try:
            if events:
                conn.dispatch.before_cursor_execute(conn, cur, sql, args, None, False)
            cur.execute(sql, args)
            if row is not None:
                got = cur.fetchall()
            if events:
                conn.dispatch.after_cursor_execute(conn, cur, sql, args, None, False)
        except Exception as e:
            conn._handle_dbapi_exception(e, sql, args, cur, None)  # raises SQLAlchemy's wrapped error
        if row is None:
            return []
        # Looked up before cur.description is read: psycopg builds the description's column objects
        # afresh on every read (tens of µs for a dozen columns), and the processors never change.
        result_procs = self._by_dialect.get(("result", dialect.name))
        if result_procs is None:
            result_procs = self._result_procs(dialect, columns, cur.description)
        if result_procs:
            out = []
            for r in got:
                values = list(r)
                for i, proc in result_procs:
                    values[i] = proc(values[i])
                out.append(row._make(values))
            return out
        return [row._make(r) for r in got]

    def first(self, conn: Connection, params: dict):
        """The first row, or None."""
        got = self.rows(conn, params)
        return got[0] if got else None


def _next_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (code point order)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters: skip past them
        last = 0xE000
    return prefix[:-1] + chr(min(last, 0x10FFFF))


class starts_with(ColumnElement):
    """`column` starts with `prefix`, written so each database uses its index for it.

    PostgreSQL: LIKE 'prefix%' (member names and org-unit paths are columns of collation "C", so
    their plain indexes serve it whatever the database's collation). SQLite: its LIKE cannot use a plain
    index (it is case-insensitive by default), so a range on the column's binary (code point) order:
    prefix <= column < next(prefix)."""

    inherit_cache = True
    type = NullType()  # a condition, rendered as such (a Boolean type would add "= 1" on SQLite)
    # The bound values take part in the statement cache key, so cached SQL never keeps a stale prefix.
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("lower", InternalTraversal.dp_clauseelement),
        ("upper", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, prefix: str):
        self.column = column
        escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
        self.pattern = bindparam(None, escaped + "%", type_=String())
        self.lower = bindparam(None, prefix, type_=String())
        self.upper = bindparam(None, _next_prefix(prefix) if prefix else chr(0x10FFFF), type_=String())


@compiles(starts_with)
def _starts_with_default(element, compiler, **kw):
    return f"({compiler.process(element.column, **kw)} LIKE {compiler.process(element.pattern, **kw)} ESCAPE '/')"


@compiles(starts_with, "sqlite")
def _starts_with_sqlite(element, compiler, **kw):
    col = compiler.process(element.column, **kw)
    return f"({col} >= {compiler.process(element.lower, **kw)} AND {col} < {compiler.process(element.upper, **kw)})"


def as_loaded(session: Session, cls: type, values: dict[str, Any], related: dict[str, Any] | None = None) -> Any:
    """An instance of the mapped class `cls` (primary key `id`) with `values` (its column attributes,
    as a Core read of the row gave them), persistent in `session` and unchanged, as if the ORM had
    loaded it: changes to it are flushed, its relationships load lazily, a commit expires it. When the
    session already holds an instance of that identity, that one is returned, as a query would (the
    identity map keeps one object per row). For a hot read in Core (FixedStatement) whose caller needs
    the ORM object: building it here costs a fraction of the ORM's load of one row. `related`: objects
    already loaded for its relationships (an outlet's org unit, say), set as if loaded with it."""
    found = session.identity_map.get(identity_key(cls, values["id"]))
    if found is not None:
        return found
    obj = cls(**values, **(related or {}))
    make_transient_to_detached(obj)
    session.add(obj)
    return obj
