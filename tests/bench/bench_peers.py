#!/usr/bin/env python3
"""
bench_peers.py -- copied from ../shared/bench/bench_peers.py and adapted for `make bench` (section 10,
tests/bench/peers_bench.py): database names take the prefix $PEERS_DBPREFIX (default peers_), and the
aixin systems also run W2b, the same N one-transfer journals in one Ledger.post_many() call.

side-by-side throughput of existing Python double-entry ledger
libraries and a raw-SQL floor, measured in one run on one machine.

Systems
  floor-pg       hand-written SQL, psycopg 3, PostgreSQL
  floor-sqlite   hand-written SQL, stdlib sqlite3, SQLite (file, default pragmas + foreign_keys=ON)
  hordak-pg      django-hordak 2.x (Account.transfer_to), PostgreSQL
  hordak-sqlite  attempted only (django-hordak does not support SQLite; the error is recorded)
  pyacc-pg       python-accounting 2.x (JournalEntry + LineItem + post()), PostgreSQL (psycopg2)
  pyacc-sqlite   python-accounting 2.x, SQLite file
  aixin-pg       this project's ledger (ledger.Ledger, SQLAlchemy Core + psycopg 3), PostgreSQL
  aixin-sqlite   this project's ledger, SQLite file opened by the project's app.db.make_engine
                 (the production settings: WAL, synchronous=NORMAL, BEGIN IMMEDIATE, busy timeout)
  aixin-sqlite-full  optional, not in the default set: the same, with the floor's SQLite pragmas
                 (rollback journal, synchronous=FULL) put back after make_engine's, for a like-for-like row
  aixin-tx-pg    optional, W1 and W3 only: aixin-pg with each transfer as BEGIN, post(), COMMIT (the shape
                 of the product's use cases) instead of a post on an AUTOCOMMIT connection

aixin-* workers run under the project's own interpreter (--aixin-python, default
<checkout>/.venv/bin/python) with the checkout (--aixin-checkout / $AIXIN_CHECKOUT, default
the current directory) on PYTHONPATH; every other worker runs under the interpreter that runs this script
(the peers' venv).  --worker-python SYSTEM=PATH overrides the interpreter of any one system.
The aixin schema comes only from the project's migrations (`alembic upgrade head` in the checkout).

Workloads (same logical workload for every system, each run on a fresh copy of a
per-system template database that holds the accounts and the funding transfers):
  W1  N one-transfer DB transactions, single client, random pairs of 1,000 funded wallets
  W2  one DB transaction with N transfers source -> N distinct wallets (seconds)
  W2p (aixin only) the same N transfers as N one-transfer post() calls in one DB transaction
  W3  4 concurrent client processes x N one-transfer transactions on disjoint wallet sets (PG only)
  W4  balance read of one account with 1,000 and 200,000 transfers of history (median of 200 reads)

Run (see README.md):
  $VENV/bin/python bench_peers.py                 # everything, ~9-10 min on 2 vCPU
  $VENV/bin/python bench_peers.py --only floor-pg,hordak-pg --reps 1
  $VENV/bin/python bench_peers.py --only pyacc-pg,pyacc-sqlite --pyacc-scale 1 --reps 1
  $VENV/bin/python bench_peers.py --only floor-pg,floor-sqlite,hordak,aixin-pg,aixin-sqlite,aixin-sqlite-full

Internally the script re-invokes itself as a subprocess per (system, workload, rep)
("--worker ..."), so that Django / python-accounting global state never mixes.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import traceback
from datetime import datetime
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("PEERS_WORKDIR", os.path.join(tempfile.gettempdir(), "peers-bench"))   # sqlite files, meta files
PG = dict(host="127.0.0.1", port=5432, user="postgres")
DBPREFIX = os.environ.get("PEERS_DBPREFIX", "peers_")
SEED = 20240601
CUR = "CNY"

# ----------------------------------------------------------------------------
# Workload sizes (spec).  python-accounting is scaled by --pyacc-scale (see README).
# ----------------------------------------------------------------------------
WALLETS = 1000          # W1 / W3 wallets, funded from the source first
FUND = 1_000_000        # funding per wallet (amounts in W1/W3 are 1..100)
W1_N = 5000
W2_N = 10000            # also the number of W2 destination wallets
W3_CLIENTS = 4
W3_N = 2000             # per client
W4_SMALL = 1000
W4_BIG = 200_000
W4_READS = 200
W4_SLOW_MS = 20.0       # a reader slower than this per read ...
W4_SLOW_READS = 50      # ... is timed with 50 reads per set instead of 200 (runtime bound)
if os.environ.get("PEERS_SMOKE"):      # tiny sizes for a functional smoke test only
    WALLETS, W1_N, W2_N, W3_N, W4_SMALL, W4_BIG, W4_READS = 40, 100, 60, 30, 100, 2000, 20

# Logical account layout, identical for every system:
#   0                      source (may go negative)
#   1 .. WALLETS           W1/W3 wallets (funded with FUND each)
#   WALLETS+1 .. +W2_N     W2 destination wallets (unfunded)
#   H = WALLETS+W2_N+1     W4 history account
SRC = 0
H = WALLETS + W2_N + 1
N_ACCOUNTS = H + 1

SYSTEMS = ["floor-pg", "floor-sqlite", "hordak-pg", "hordak-sqlite", "pyacc-pg", "pyacc-sqlite",
           "aixin-pg", "aixin-sqlite"]
EXTRA_SYSTEMS = ["aixin-sqlite-full", "aixin-tx-pg"]        # run only when named in --only
ALIASES = {"hordak": "hordak-pg", "aixin": "aixin-pg,aixin-sqlite"}

# The project's checkout and interpreter (aixin-* systems).  main() applies --aixin-checkout /
# --aixin-python and exports AIXIN_CHECKOUT, so worker processes see the same values.
AIXIN_CHECKOUT = os.path.abspath(os.environ.get("AIXIN_CHECKOUT", os.getcwd()))
AIXIN_PYTHON = os.environ.get("AIXIN_PYTHON") or os.path.join(AIXIN_CHECKOUT, ".venv", "bin", "python")
WORKER_PYTHON = {}      # system -> interpreter, from --worker-python SYSTEM=PATH


def is_pg(system):
    return system.endswith("-pg")


def worker_python(system):
    """The interpreter that runs this system's worker processes."""
    if system in WORKER_PYTHON:
        return WORKER_PYTHON[system]
    if system.startswith("aixin-"):
        return AIXIN_PYTHON
    return sys.executable


def worker_env(system):
    env = dict(os.environ)
    if system.startswith("aixin-"):
        env["AIXIN_CHECKOUT"] = AIXIN_CHECKOUT
        env["PYTHONPATH"] = os.pathsep.join([AIXIN_CHECKOUT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.pop("DATABASE_URL", None)        # the project's config must not pick up a stray database
    return env


# ----------------------------------------------------------------------------
# Deterministic workload generators (same sequence for every system)
# ----------------------------------------------------------------------------
def random_pairs(n, lo, hi, seed):
    """n transfers between distinct random accounts in [lo, hi], amount 1..100."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.randint(lo, hi)
        b = rng.randint(lo, hi - 1)
        if b >= a:
            b += 1
        out.append((a, b, rng.randint(1, 100)))
    return out


def w1_pairs(n):
    return random_pairs(n, 1, WALLETS, SEED + 1)


def w2_pairs(n):
    rng = random.Random(SEED + 2)
    return [(SRC, WALLETS + 1 + i, rng.randint(1, 100)) for i in range(n)]


def w3_pairs(client, n, clients):
    group = WALLETS // clients
    lo = 1 + client * group
    return random_pairs(n, lo, lo + group - 1, SEED + 100 + client)


def net_flows(pairs):
    """Net change per logical account (in - out) of a transfer sequence."""
    net = {}
    for a, b, amt in pairs:
        net[a] = net.get(a, 0) - amt
        net[b] = net.get(b, 0) + amt
    return net


_SYNC = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def read_sqlite_pragmas(raw):
    """journal_mode / synchronous / foreign_keys / busy_timeout of a sqlite3 connection, as in force."""
    q = lambda name: raw.execute(f"PRAGMA {name}").fetchone()[0]
    sync = q("synchronous")
    return {"journal_mode": q("journal_mode"), "synchronous": f"{_SYNC.get(sync, sync)} ({sync})",
            "foreign_keys": q("foreign_keys"), "busy_timeout_ms": q("busy_timeout")}


# ----------------------------------------------------------------------------
# Drivers: one per system.  Interface:
#   build_template()            create schema/accounts/funding in self.db, return meta
#   transfer(a, b, amt)         one transfer in its own DB transaction (a -> b)
#   batch(pairs)                all transfers in ONE DB transaction
#   bulk_history(src, dst, n, amt)   setup-only bulk load of n transfers src -> dst
#   analyze()
#   read_balance(idx)           the library's balance read API
#   retryable                   exception classes retried in W3
# Indices are logical (see layout above); meta["ids"] maps them to real ids.
# ----------------------------------------------------------------------------
class FloorPG:
    retryable = ()

    def __init__(self, db, meta=None):
        import psycopg
        self.psycopg = psycopg
        self.retryable = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
        self.db = db
        self.conn = psycopg.connect(dbname=db, **PG)
        self.cur = self.conn.cursor()

    @staticmethod
    def rid(idx):
        return idx + 1

    def build_template(self):
        c = self.conn
        c.execute("""
            CREATE TABLE accounts (
              id bigint PRIMARY KEY,
              balance bigint NOT NULL DEFAULT 0,
              allow_negative boolean NOT NULL DEFAULT false,   -- true only for the source
              CHECK (allow_negative OR balance >= 0))""")
        c.execute("""
            CREATE TABLE transfers (
              id bigserial PRIMARY KEY,
              debit_id  bigint NOT NULL REFERENCES accounts(id),   -- money leaves this account
              credit_id bigint NOT NULL REFERENCES accounts(id),   -- money arrives here
              amount bigint NOT NULL CHECK (amount > 0),
              created_at timestamptz NOT NULL DEFAULT now())""")
        c.execute("INSERT INTO accounts (id, allow_negative) SELECT g, g = 1 FROM generate_series(1, %s) g",
                  (N_ACCOUNTS,))
        # funding: one transfer source -> each W1 wallet
        c.execute("INSERT INTO transfers (debit_id, credit_id, amount) "
                  "SELECT 1, g, %s FROM generate_series(2, %s) g", (FUND, WALLETS + 1))
        c.execute("UPDATE accounts SET balance = balance + %s WHERE id BETWEEN 2 AND %s", (FUND, WALLETS + 1))
        c.execute("UPDATE accounts SET balance = balance - %s WHERE id = 1", (FUND * WALLETS,))
        c.commit()
        return {"ids": None}

    def _one(self, a, b, amt):
        ia, ib = a + 1, b + 1
        cur = self.cur
        cur.execute("INSERT INTO transfers (debit_id, credit_id, amount) VALUES (%s, %s, %s)", (ia, ib, amt))
        for acc, delta in sorted(((ia, -amt), (ib, amt))):      # ascending id order
            cur.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s", (delta, acc))

    def transfer(self, a, b, amt):
        try:
            self._one(a, b, amt)
            self.conn.commit()
        except Exception:
            self.conn.rollback()
            raise

    def batch(self, pairs):
        for a, b, amt in pairs:
            self._one(a, b, amt)
        t0 = time.perf_counter()
        self.conn.commit()
        self.commit_s = time.perf_counter() - t0

    def bulk_history(self, src, dst, n, amt):
        c = self.conn
        c.execute("INSERT INTO transfers (debit_id, credit_id, amount) SELECT %s, %s, %s FROM generate_series(1, %s)",
                  (src + 1, dst + 1, amt, n))
        c.execute("UPDATE accounts SET balance = balance - %s WHERE id = %s", (amt * n, src + 1))
        c.execute("UPDATE accounts SET balance = balance + %s WHERE id = %s", (amt * n, dst + 1))
        c.commit()

    def analyze(self):
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("ANALYZE")
        self.conn.autocommit = False

    def read_setup(self):
        self.conn.autocommit = True

    def count_transfers(self):
        self.cur.execute("SELECT count(*) FROM transfers")
        n = self.cur.fetchone()[0]
        self.conn.commit()
        return n

    def read_balance(self, idx):
        self.cur.execute("SELECT balance FROM accounts WHERE id = %s", (idx + 1,))
        return self.cur.fetchone()[0]


class FloorSQLite:
    retryable = (sqlite3.OperationalError,)

    def __init__(self, db, meta=None):
        self.db = db
        self.conn = sqlite3.connect(db, isolation_level=None)   # explicit BEGIN/COMMIT
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.cur = self.conn.cursor()

    def build_template(self):
        c = self.conn
        c.execute("""
            CREATE TABLE accounts (
              id INTEGER PRIMARY KEY,
              balance INTEGER NOT NULL DEFAULT 0,
              allow_negative INTEGER NOT NULL DEFAULT 0,
              CHECK (allow_negative OR balance >= 0))""")
        c.execute("""
            CREATE TABLE transfers (
              id INTEGER PRIMARY KEY,
              debit_id  INTEGER NOT NULL REFERENCES accounts(id),
              credit_id INTEGER NOT NULL REFERENCES accounts(id),
              amount INTEGER NOT NULL CHECK (amount > 0),
              created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')))""")
        c.execute("BEGIN")
        c.executemany("INSERT INTO accounts (id, allow_negative) VALUES (?, ?)",
                      [(i, 1 if i == 1 else 0) for i in range(1, N_ACCOUNTS + 1)])
        c.executemany("INSERT INTO transfers (debit_id, credit_id, amount) VALUES (1, ?, ?)",
                      [(i, FUND) for i in range(2, WALLETS + 2)])
        c.execute("UPDATE accounts SET balance = balance + ? WHERE id BETWEEN 2 AND ?", (FUND, WALLETS + 1))
        c.execute("UPDATE accounts SET balance = balance - ? WHERE id = 1", (FUND * WALLETS,))
        c.execute("COMMIT")
        return {"ids": None}

    def _one(self, a, b, amt):
        ia, ib = a + 1, b + 1
        cur = self.cur
        cur.execute("INSERT INTO transfers (debit_id, credit_id, amount) VALUES (?, ?, ?)", (ia, ib, amt))
        for acc, delta in sorted(((ia, -amt), (ib, amt))):
            cur.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (delta, acc))

    def transfer(self, a, b, amt):
        self.cur.execute("BEGIN")
        try:
            self._one(a, b, amt)
            self.cur.execute("COMMIT")
        except Exception:
            self.cur.execute("ROLLBACK")
            raise

    def batch(self, pairs):
        self.cur.execute("BEGIN")
        for a, b, amt in pairs:
            self._one(a, b, amt)
        t0 = time.perf_counter()
        self.cur.execute("COMMIT")
        self.commit_s = time.perf_counter() - t0

    def bulk_history(self, src, dst, n, amt):
        c = self.conn
        c.execute("BEGIN")
        c.executemany("INSERT INTO transfers (debit_id, credit_id, amount) VALUES (?, ?, ?)",
                      ((src + 1, dst + 1, amt) for _ in range(n)))
        c.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amt * n, src + 1))
        c.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amt * n, dst + 1))
        c.execute("COMMIT")

    def analyze(self):
        self.conn.execute("ANALYZE")

    def read_setup(self):
        pass

    def count_transfers(self):
        return self.conn.execute("SELECT count(*) FROM transfers").fetchone()[0]

    def sqlite_pragmas(self):
        return read_sqlite_pragmas(self.conn)

    def read_balance(self, idx):
        self.cur.execute("SELECT balance FROM accounts WHERE id = ?", (idx + 1,))
        return self.cur.fetchone()[0]


def django_setup(db, engine="postgresql"):
    import django
    from django.conf import settings
    if engine == "postgresql":
        dbconf = {"ENGINE": "django.db.backends.postgresql", "NAME": db, "HOST": PG["host"],
                  "PORT": str(PG["port"]), "USER": PG["user"]}
    else:
        dbconf = {"ENGINE": "django.db.backends.sqlite3", "NAME": db}
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "mptt", "hordak"],
        DATABASES={"default": dbconf},
        USE_TZ=True, TIME_ZONE="UTC", DEBUG=False,
        DEFAULT_CURRENCY=CUR, HORDAK_INTERNAL_CURRENCY=CUR, CURRENCIES=[CUR],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


class HordakPG:
    def __init__(self, db, meta=None):
        django_setup(db)
        from django.db import DatabaseError, transaction
        from hordak.models import Account
        from moneyed import Money
        self.db, self.meta = db, meta
        self.Account, self.Money, self.atomic = Account, Money, transaction.atomic
        self.retryable = (DatabaseError,)
        self._acc = {}

    def build_template(self):
        from django.core.management import call_command
        from django.db import connection
        call_command("migrate", verbosity=0)
        A = self.Account
        src = A.objects.create(name="Source", type="AS", currencies=[CUR])
        hist = A.objects.create(name="History", type="AS", currencies=[CUR])
        # 11,000 wallets: bulk SQL (the API does ~200 creates/s).  Same row shape as the
        # API produces for a root account without code: lft=1, rght=2, level=0, own tree_id.
        with connection.cursor() as cur:
            cur.execute("SELECT coalesce(max(tree_id), 0), coalesce(max(id), 0) FROM hordak_account")
            max_tree, max_id = cur.fetchone()
            cur.execute("""
                INSERT INTO hordak_account (uuid, name, code, type, is_bank_account, lft, rght, tree_id,
                                            level, parent_id, full_code, currencies)
                SELECT gen_random_uuid(), 'Wallet ' || g, NULL, 'AS', false, 1, 2, %s + g, 0, NULL, NULL,
                       %s::jsonb
                FROM generate_series(1, %s) g ORDER BY g""", (max_tree, json.dumps([CUR]), WALLETS + W2_N))
            cur.execute("SELECT id FROM hordak_account WHERE id > %s ORDER BY id", (max_id,))
            wallet_ids = [r[0] for r in cur.fetchall()]
        assert len(wallet_ids) == WALLETS + W2_N
        ids = [src.id] + wallet_ids + [hist.id]
        self.meta = {"ids": ids}
        # funding via the API: source.transfer_to(wallet)
        accs = A.objects.in_bulk(ids[1:WALLETS + 1])
        amt = self.Money(FUND, CUR)
        for i in range(1, WALLETS + 1):
            src.transfer_to(accs[ids[i]], amt)
        b = accs[ids[1]].get_balance()
        assert b[CUR].amount == FUND, b
        return self.meta

    def acc(self, idx):
        a = self._acc.get(idx)
        if a is None:
            a = self._acc[idx] = self.Account.objects.get(pk=self.meta["ids"][idx])
        return a

    def preload(self, idxs):
        rid = self.meta["ids"]
        got = self.Account.objects.in_bulk([rid[i] for i in idxs])
        for i in idxs:
            self._acc[i] = got[rid[i]]

    def transfer(self, a, b, amt):
        self.acc(a).transfer_to(self.acc(b), self.Money(amt, CUR))

    def batch(self, pairs):
        with self.atomic():
            for a, b, amt in pairs:
                self.acc(a).transfer_to(self.acc(b), self.Money(amt, CUR))
            t0 = time.perf_counter()       # leaving atomic() = COMMIT (deferred triggers run here)
        self.commit_s = time.perf_counter() - t0

    def bulk_history(self, src, dst, n, amt):
        # Setup only: INSERT ... SELECT generate_series with the same row shape as
        # transfer_to() (one hordak_transaction + credit leg + debit leg).  Hordak's
        # deferred constraint triggers stay ENABLED and validate every leg at COMMIT.
        from django.db import connection
        rid = self.meta["ids"]
        with self.atomic(), connection.cursor() as cur:
            cur.execute("""
                WITH t AS (
                  INSERT INTO hordak_transaction (uuid, timestamp, date, description)
                  SELECT gen_random_uuid(), now(), current_date, '' FROM generate_series(1, %s)
                  RETURNING id)
                INSERT INTO hordak_leg (uuid, transaction_id, account_id, currency, credit, debit, description)
                SELECT gen_random_uuid(), t.id, x.account_id, %s, x.credit, x.debit, ''
                FROM t CROSS JOIN (VALUES (%s::bigint, %s::numeric, NULL::numeric, 1),
                                          (%s::bigint, NULL::numeric, %s::numeric, 2))
                     AS x(account_id, credit, debit, o)
                ORDER BY t.id, x.o""", (n, CUR, rid[src], amt, rid[dst], amt))

    def analyze(self):
        from django.db import connection
        with connection.cursor() as cur:
            cur.execute("ANALYZE")

    def read_setup(self):
        pass

    def count_transfers(self):
        from hordak.models import Transaction
        return Transaction.objects.count()

    def read_balance(self, idx):
        # documented per-account API: Account.get_balance() (includes child accounts)
        return self.acc(idx).get_balance()

    def read_balance_qs(self, idx):
        # documented "more performant" API: Account.objects.with_balances()
        return self.Account.objects.with_balances().get(pk=self.meta["ids"][idx]).balance


class HordakSQLite(HordakPG):
    def __init__(self, db, meta=None):
        django_setup(db, engine="sqlite")
        from hordak.models import Account
        self.Account = Account

    def build_template(self):
        from django.core.management import call_command
        call_command("migrate", verbosity=0)   # raises NotImplementedError for sqlite
        return {"ids": None}


class PyAcc:
    """python-accounting 2.x.  One transfer = JournalEntry(main account = a, credited)
    + one LineItem(account = b, debited) + post()."""

    def __init__(self, db, meta=None):
        from sqlalchemy import create_engine, exc
        from python_accounting.models import Entity, Account, LineItem
        from python_accounting.transactions import JournalEntry
        from python_accounting.database.session import get_session, AccountingSession
        self.sqlite = db.endswith(".sqlite3")
        self.url = f"sqlite:///{db}" if self.sqlite else \
            f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{db}"
        self.engine = create_engine(self.url)
        self.Entity, self.Account, self.LineItem, self.JournalEntry = Entity, Account, LineItem, JournalEntry
        self.AccountingSession = AccountingSession
        self.get_session = get_session
        self.retryable = (exc.IntegrityError, exc.OperationalError)
        self.meta = meta
        self.s = None
        if meta:
            self.s = self._session(self.engine)

    def _session(self, bind):
        s = self.AccountingSession(bind=bind, info={"include_deleted": False, "ignore_isolation": False})
        # A fresh AccountingSession must know its Entity before the first add(),
        # otherwise the library raises AttributeError: 'AccountingSession' has no attribute 'entity'.
        s.entity = s.get(self.Entity, self.meta["entity_id"])
        return s

    def build_template(self):
        from sqlalchemy import text
        from python_accounting.models import Base, Entity, Currency, Account
        Base.metadata.create_all(self.engine)
        s = self.get_session(self.engine)
        e = Entity(name="Bench Co"); s.add(e); s.commit()
        c = Currency(name="Renminbi", code=CUR, entity_id=e.id); s.add(c); s.commit()
        src = Account(name="Source", account_type=Account.AccountType.EQUITY, currency_id=c.id, entity_id=e.id)
        hist = Account(name="History", account_type=Account.AccountType.BANK, currency_id=c.id, entity_id=e.id)
        s.add_all([src, hist]); s.commit()
        src_id, hist_id, eid, cid = src.id, hist.id, e.id, c.id
        s.close()
        # 11,000 wallets via bulk SQL (recyclable + account rows, as the ORM writes them)
        now = self._ts(datetime.now())
        with self.engine.begin() as conn:
            base = conn.execute(text("SELECT max(id) FROM recyclable")).scalar()
            code0 = conn.execute(text("SELECT count(*) FROM account WHERE account_type = 'BANK'")).scalar()
            n = WALLETS + W2_N
            conn.execute(text(f"""
                INSERT INTO recyclable (id, deleted_at, destroyed_at, recycled_type, created_at, updated_at)
                SELECT :base + q.n, NULL, NULL, 'Account', :ts, :ts FROM ({self._series(n)}) q"""),
                dict(base=base, ts=now))
            conn.execute(text(f"""
                INSERT INTO account (id, name, description, account_code, account_type, currency_id,
                                     category_id, entity_id)
                SELECT :base + q.n, 'Wallet ' || q.n, NULL, 3000 + :code0 + q.n, {self._enum('BANK', 'accounttype')},
                       :cid, NULL, :eid FROM ({self._series(n)}) q"""),
                dict(base=base, code0=code0, cid=cid, eid=eid))
            if not self.sqlite:
                conn.execute(text("SELECT setval('recyclable_id_seq', (SELECT max(id) FROM recyclable))"))
        ids = [src_id] + [base + i for i in range(1, WALLETS + W2_N + 1)] + [hist_id]
        self.meta = {"ids": ids, "entity_id": eid, "currency_id": cid}
        # funding: bulk-loaded journal entries source -> wallet i (one per wallet)
        self._bulk(SRC, 1, 1, WALLETS, FUND)
        # sanity check through the library API
        self.s = self._session(self.engine)
        bal = self.s.get(Account, ids[1]).closing_balance(self.s)
        assert bal == FUND, bal
        self.s.close()
        return self.meta

    # -- helpers -------------------------------------------------------------
    def _series(self, n):
        if self.sqlite:
            return f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {int(n)}) SELECT n FROM s"
        return f"SELECT g AS n FROM generate_series(1, {int(n)}) g"

    def _enum(self, value, pgtype):
        return f"'{value}'" if self.sqlite else f"CAST('{value}' AS {pgtype})"

    def _ts(self, dt):
        return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else dt

    def _bulk(self, src, dst0, dst_step, n, amt):
        """Setup-only bulk load of n journal entries src -> dst0 + k*dst_step, with the
        row shape the library writes (recyclable, transaction, line_item, 2 ledger rows;
        transaction_no continues the library's JN<period>/<count> numbering).  Ledger
        hashes are a fixed placeholder (the library's is_secure() would flag these rows;
        balance reads do not look at hashes)."""
        from sqlalchemy import text
        from python_accounting.config import config
        rid, eid, cid = self.meta["ids"], self.meta["entity_id"], self.meta["currency_id"]
        now = self._ts(datetime.now())
        prefix = config.transactions["types"]["JOURNAL_ENTRY"]["transaction_no_prefix"]
        with self.engine.begin() as conn:
            base = conn.execute(text("SELECT max(id) FROM recyclable")).scalar()
            period = conn.execute(text("SELECT period_count FROM reporting_period WHERE entity_id = :e "
                                       "ORDER BY calendar_year DESC LIMIT 1"), dict(e=eid)).scalar()
            cnt0 = conn.execute(text("SELECT count(*) FROM \"transaction\" WHERE transaction_type = 'JOURNAL_ENTRY' "
                                     "AND entity_id = :e"), dict(e=eid)).scalar()
            ser = self._series(n)
            dst = f"(:dst0 + (q.n - 1) * :dst_step)"
            # real account ids of dst wallets are contiguous for wallets (bulk-created), so
            # compute them from the first one; for a fixed dst, dst_step = 0
            p = dict(base=base, ts=now, amt=amt, src=rid[src], dst0=rid[dst0], dst_step=dst_step,
                     eid=eid, cid=cid, cnt0=cnt0, pfx=f"{prefix}{period:02}/", t=True, f=False,
                     h="0" * 64)
            if dst_step:
                assert rid[dst0 + n - 1] == rid[dst0] + (n - 1) * dst_step
            tno = ("printf('%04d', :cnt0 + q.n)" if self.sqlite else
                   "lpad((:cnt0 + q.n)::text, greatest(4, length((:cnt0 + q.n)::text)), '0')")
            conn.execute(text(f"""
                INSERT INTO recyclable (id, deleted_at, destroyed_at, recycled_type, created_at, updated_at)
                SELECT :base + 4 * (q.n - 1) + k.k, NULL, NULL,
                       CASE k.k WHEN 1 THEN 'Journal Entry' WHEN 2 THEN 'LineItem' ELSE 'Ledger' END, :ts, :ts
                FROM ({ser}) q CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) k
                ORDER BY 1"""), p)
            conn.execute(text(f"""
                INSERT INTO "transaction" (id, transaction_date, transaction_no, transaction_type, narration,
                    reference, main_account_amount, credited, compound, currency_id, account_id, entity_id)
                SELECT :base + 4 * (q.n - 1) + 1, :ts, :pfx || {tno},
                       {self._enum('JOURNAL_ENTRY', 'transactiontype')}, 'bulk', NULL, 0, :t, :f, :cid, :src, :eid
                FROM ({ser}) q"""), p)
            conn.execute(text(f"""
                INSERT INTO line_item (id, narration, quantity, amount, credited, tax_inclusive, account_id,
                                       transaction_id, tax_id, entity_id)
                SELECT :base + 4 * (q.n - 1) + 2, 'bulk', 1, :amt, :f, :f, {dst}, :base + 4 * (q.n - 1) + 1,
                       NULL, :eid
                FROM ({ser}) q"""), p)
            conn.execute(text(f"""
                INSERT INTO ledger (id, transaction_date, entry_type, amount, hash, transaction_id, currency_id,
                                    post_account_id, folio_account_id, line_item_id, tax_id, entity_id)
                SELECT :base + 4 * (q.n - 1) + 3, :ts, {self._enum('CREDIT', 'balancetype')}, :amt, :h,
                       :base + 4 * (q.n - 1) + 1, :cid, :src, {dst}, :base + 4 * (q.n - 1) + 2, CAST(NULL AS INTEGER), :eid
                FROM ({ser}) q
                UNION ALL
                SELECT :base + 4 * (q.n - 1) + 4, :ts, {self._enum('DEBIT', 'balancetype')}, :amt, :h,
                       :base + 4 * (q.n - 1) + 1, :cid, {dst}, :src, :base + 4 * (q.n - 1) + 2, CAST(NULL AS INTEGER), :eid
                FROM ({ser}) q"""), p)
            if not self.sqlite:
                conn.execute(text("SELECT setval('recyclable_id_seq', (SELECT max(id) FROM recyclable))"))

    # -- driver interface ----------------------------------------------------
    def _post(self, s, a, b, amt):
        rid, eid = self.meta["ids"], self.meta["entity_id"]
        je = self.JournalEntry(narration="transfer", transaction_date=datetime.now(),
                               account_id=rid[a], entity_id=eid)
        s.add(je)
        s.flush()
        li = self.LineItem(narration="transfer", account_id=rid[b], amount=Decimal(amt), entity_id=eid)
        s.add(li)
        s.flush()
        je.line_items.add(li)
        s.add(je)
        je.post(s)          # writes 2 ledger rows and COMMITs the session

    def transfer(self, a, b, amt):
        try:
            self._post(self.s, a, b, amt)
        except Exception:
            self.s.rollback()
            raise

    def batch(self, pairs):
        # post() calls session.commit() internally, so a plain session cannot hold many
        # transfers in one DB transaction.  Bind the session to a Connection whose
        # transaction we own: SQLAlchemy's default join_transaction_mode then turns the
        # library's commit() calls into no-ops and only our outer commit() commits.
        with self.engine.connect() as conn:
            outer = conn.begin()
            s = self._session(conn)
            for a, b, amt in pairs:
                self._post(s, a, b, amt)
            t0 = time.perf_counter()
            outer.commit()
            self.commit_s = time.perf_counter() - t0
            s.close()

    def bulk_history(self, src, dst, n, amt):
        self._bulk(src, dst, 0, n, amt)

    def analyze(self):
        from sqlalchemy import text
        self.s.rollback()
        with self.engine.connect() as conn:
            if not self.sqlite:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
            else:
                conn.execute(text("ANALYZE"))
                conn.commit()

    def read_setup(self):
        self._racc = {}

    def count_transfers(self):
        from sqlalchemy import text
        with self.engine.connect() as conn:
            return conn.execute(text('SELECT count(*) FROM "transaction"')).scalar()

    def sqlite_pragmas(self):
        if not self.sqlite:
            return None
        raw = self.engine.raw_connection()       # a pooled connection: same settings as the session's
        try:
            return read_sqlite_pragmas(raw.driver_connection)
        finally:
            raw.close()

    def read_balance(self, idx):
        a = self._racc.get(idx)
        if a is None:
            a = self._racc[idx] = self.s.get(self.Account, self.meta["ids"][idx])
        return a.closing_balance(self.s)


def aixin_code(idx):
    """Account code of a logical account in the project's ledger."""
    if idx == SRC:
        return "source"
    if idx == H:
        return "history"
    return f"w:{idx:05d}"


class Aixin:
    """This project's ledger (`ledger.Ledger`, SQLAlchemy Core), imported from the checkout and run
    under the project's interpreter.  One transfer = `book.post([Transfer(debit=a, credit=b,
    amount=amt)], kind=..., key=<own idempotency key>)`.  The engine is the project's
    `app.db.make_engine(url)`, as production uses it.

    W1/W3 transactions on PostgreSQL (`own_transaction`): the post is its own transaction, on a
    connection in AUTOCOMMIT -- the ledger's one-transfer post is then one statement, one round trip
    with its commit (as pgledger's function call in autocommit); see docs/ledger.md, "A post as its
    own transaction".  `aixin-tx-pg` runs the same W1/W3 in the shape the product's use cases have:
    BEGIN, the post, COMMIT (`conn.commit()`; the ledger never commits a caller's transaction).
    SQLite and W2/W2p/W2b: inside a transaction as before.

    Accounts: `source` is debit-normal without no_overdraft (the project's convention for a source:
    its balance grows as it issues, the floor's source goes negative instead); the 11,000 wallets
    and `history` are credit-normal with no_overdraft, like the project's member wallets.  Unit PT.
    """

    has_w2_posts = True          # also runs W2p: N one-transfer post() calls in one DB transaction
    has_w2_many = True           # and W2b: the same N journals in one post_many() call
    floor_pragmas = False        # aixin-sqlite-full: rollback journal + synchronous=FULL after make_engine
    own_transaction = True       # W1/W3 on PostgreSQL: each post on an AUTOCOMMIT connection (aixin-tx-pg: False)
    UNIT = "PT"
    HISTORY_CHUNK = 50_000       # rows per COPY / executemany in bulk_history (as floor.build_history)

    def __init__(self, db, meta=None):
        if AIXIN_CHECKOUT not in sys.path:
            sys.path.insert(0, AIXIN_CHECKOUT)
        from sqlalchemy import event, exc
        from app.db import make_engine          # the project's engine factory (sets the SQLite pragmas)
        from ledger import Ledger, Transfer
        self.Ledger, self.Transfer = Ledger, Transfer
        self.db, self.meta = db, meta
        self.sqlite = db.endswith(".sqlite3")
        self.url = (f"sqlite:///{os.path.abspath(db)}" if self.sqlite else
                    f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{db}")
        self.engine = make_engine(self.url)
        if self.sqlite and self.floor_pragmas:
            @event.listens_for(self.engine, "connect")      # runs after make_engine's own listener
            def _floor_pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode = DELETE")
                cur.execute("PRAGMA synchronous = FULL")
                cur.close()
        # W3 retries: lock/serialization failures (psycopg's DeadlockDetected / SerializationFailure
        # and SQLite's "database is locked" all arrive as sqlalchemy.exc.OperationalError).
        self.retryable = (exc.OperationalError,)
        self.codes = [aixin_code(i) for i in range(N_ACCOUNTS)]
        self.key_prefix = f"p{os.getpid()}"
        self._n = 0
        self.conn = self.book = self.alone = None
        if meta is not None:
            self._connect()

    def _connect(self):
        self.conn = self.engine.connect()
        self.book = self.Ledger(self.conn, tenant=0)
        if self.own_transaction and not self.sqlite:
            # Its own connection: every statement on it commits on its own (the post is one statement).
            self.alone = self.Ledger(self.engine.connect().execution_options(isolation_level="AUTOCOMMIT"), tenant=0)

    def _raw(self):
        """The DBAPI connection under self.conn (use only outside a transaction)."""
        return self.conn.connection.driver_connection

    def _migrate(self):
        """The schema comes only from the project's migrations: `alembic upgrade head` in the checkout."""
        alembic = os.path.join(os.path.dirname(sys.executable), "alembic")
        cmd = [alembic] if os.path.exists(alembic) else [sys.executable, "-m", "alembic"]
        env = dict(os.environ, DATABASE_URL=self.url)
        p = subprocess.run(cmd + ["upgrade", "head"], cwd=AIXIN_CHECKOUT, env=env, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"alembic upgrade head failed ({p.returncode}): {p.stderr[-2000:]}")

    def build_template(self):
        from sqlalchemy import text
        self._migrate()
        self._connect()
        b, c, T = self.book, self.codes, self.Transfer
        # Accounts through the ledger API (bulk open for the 11,000 wallets).
        b.open_account(c[SRC], unit=self.UNIT, normal="debit", no_overdraft=False)
        new = b.open_accounts(c[1:WALLETS + W2_N + 1], unit=self.UNIT, normal="credit", no_overdraft=True)
        assert new == WALLETS + W2_N, new
        b.open_account(c[H], unit=self.UNIT, normal="credit", no_overdraft=True)
        self.conn.commit()
        # Funding through the API: ONE journal of 1,000 transfers source -> wallet i (key "fund").
        b.post([T(debit=c[SRC], credit=c[i], amount=FUND) for i in range(1, WALLETS + 1)],
               kind="bench.fund", key="fund", memo="funding")
        self.conn.commit()
        bal = b.balance(c[1])
        assert bal.posted == FUND, bal
        problems = b.verify()
        assert problems == [], problems[:3]
        head = self.conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        self.conn.rollback()
        meta = {"ids": None, "alembic_head": head, "url": self.url,
                "funding": f"one journal of {WALLETS:,} transfers (book.post, key 'fund')",
                "sqlite_pragmas": self.sqlite_pragmas()}
        self.close()
        return meta

    def close(self):
        if self.alone is not None:
            self.alone._bind.close()
            self.alone = None
        if self.conn is not None:
            self.conn.rollback()
            if self.sqlite:       # fold the WAL into the main file: templates are copied file by file
                self._raw().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.close()
        self.engine.dispose()
        self.conn = self.book = None

    # -- driver interface ----------------------------------------------------
    def transfer(self, a, b, amt):
        key = f"{self.key_prefix}:{self._n}"        # a retry reuses the key, as the product does
        if self.alone is not None:     # AUTOCOMMIT: when post() returns, the journal is committed
            self.alone.post([self.Transfer(debit=self.codes[a], credit=self.codes[b], amount=amt)],
                            kind="bench.transfer", key=key)
            self._n += 1
            return
        try:
            self.book.post([self.Transfer(debit=self.codes[a], credit=self.codes[b], amount=amt)],
                           kind="bench.transfer", key=key)
            self.conn.commit()
        except Exception:
            self.conn.rollback()
            raise
        self._n += 1

    def batch(self, pairs):
        """W2: ONE journal of len(pairs) transfers, one DB transaction (Transfer list built inside the clock)."""
        c, T = self.codes, self.Transfer
        try:
            self.book.post([T(debit=c[a], credit=c[b], amount=amt) for a, b, amt in pairs],
                           kind="bench.batch", key=f"{self.key_prefix}:batch")
        except Exception:
            self.conn.rollback()
            raise
        t0 = time.perf_counter()
        self.conn.commit()
        self.commit_s = time.perf_counter() - t0

    def batch_posts(self, pairs):
        """W2p: len(pairs) one-transfer post() calls (each with its own key), one DB transaction."""
        c, T, post, pre = self.codes, self.Transfer, self.book.post, self.key_prefix
        try:
            for i, (a, b, amt) in enumerate(pairs):
                post([T(debit=c[a], credit=c[b], amount=amt)], kind="bench.transfer", key=f"{pre}:{i}")
        except Exception:
            self.conn.rollback()
            raise
        t0 = time.perf_counter()
        self.conn.commit()
        self.commit_s = time.perf_counter() - t0

    def batch_many(self, pairs):
        """W2b: len(pairs) one-transfer journals (each with its own key) in ONE post_many() call, one DB transaction."""
        from ledger import JournalSpec
        c, T, pre = self.codes, self.Transfer, self.key_prefix
        try:
            self.book.post_many([JournalSpec([T(debit=c[a], credit=c[b], amount=amt)], kind="bench.transfer",
                                             key=f"{pre}:{i}") for i, (a, b, amt) in enumerate(pairs)])
        except Exception:
            self.conn.rollback()
            raise
        t0 = time.perf_counter()
        self.conn.commit()
        self.commit_s = time.perf_counter() - t0

    def bulk_history(self, src, dst, n, amt):
        """Setup only: n one-transfer journals src -> dst written in bulk with the project's own
        bench loader (tests/bench/floor.py: its Acct, _entries = the hash chain via ledger.chain,
        _id_block, _bulk_insert = COPY on PostgreSQL / executemany on SQLite, UPDATE_ACCOUNT), so the
        rows are valid ledger rows (verify() is run on them).  floor.build_history itself needs two
        accounts without history; here the source already has the funding entries and the history is
        extended in two steps, so its loop is repeated starting from the accounts' current rows."""
        from datetime import timedelta
        from sqlalchemy import select, text
        from ledger.book import utcnow
        from ledger.schema import accounts
        from tests.bench import floor
        self.conn.rollback()
        self.conn.execution_options(read_only=False)     # W4 extends the history after read_setup()
        conn, pg = self.conn, not self.sqlite
        rows = {r.code: r for r in conn.execute(select(accounts).where(
            accounts.c.tenant_id == 0, accounts.c.code.in_([self.codes[src], self.codes[dst]])))}

        def acct(r):
            a = floor.Acct(r.id, r.normal)
            a.dp, a.cp, a.dq, a.cq = r.debits_posted, r.credits_posted, r.debits_pending, r.credits_pending
            a.count, a.head = r.entry_count, bytes(r.head_hash)
            return a
        s, d = acct(rows[self.codes[src]]), acct(rows[self.codes[dst]])
        ts, false = (lambda v: v, False) if pg else (floor._sqlite_ts, 0)
        if pg:   # as floor.build_history: skip the FK triggers for the load (consistent by construction)
            with conn.begin_nested():
                conn.execute(text("SET LOCAL session_replication_role = replica"))
        j0 = floor._id_block(conn, "ledger_journals", n)
        t0 = floor._id_block(conn, "ledger_transfers", n)
        start, k0 = utcnow(), d.count
        chunk = self.HISTORY_CHUNK
        for lo in range(0, n, chunk):
            js, trs, es = [], [], []
            for i in range(lo, min(n, lo + chunk)):
                jid, tid = j0 + i, t0 + i
                at = start + timedelta(microseconds=i)      # after the funding entries, increasing
                key = f"history:{d.id}:{k0 + i}"
                stored_at = ts(at)
                js.append((jid, 0, "bench.history", key, "", false, floor._request_hash(key), stored_at))
                trs.append((tid, jid, s.id, d.id, self.UNIT, amt, "posted"))
                for e in floor._entries(jid, tid, s, d, amt, self.UNIT, at):
                    es.append((e["a"], e["seq"], tid, jid, e["pd"], 0, e["bal"], stored_at, e["h"]))
            floor._bulk_insert(conn, "ledger_journals", js)
            floor._bulk_insert(conn, "ledger_transfers", trs)
            floor._bulk_insert(conn, "ledger_entries", es)
        conn.execute(floor.UPDATE_ACCOUNT, [s.row(), d.row()])
        conn.commit()

    def analyze(self):
        self.conn.commit()
        if self.sqlite:
            self._raw().execute("ANALYZE")
        else:
            with self.engine.connect() as c:
                c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")

    def read_setup(self):
        # Reads run in one open read transaction, opened outside the clock (as the project's own
        # history bench does); on SQLite it is a read_only one (plain BEGIN, no write lock), as
        # the app's page views are.
        self.conn.rollback()
        self.conn.execution_options(read_only=True)
        self.conn.exec_driver_sql("SELECT 1")

    def count_transfers(self):
        from sqlalchemy import text
        n = self.conn.execute(text("SELECT count(*) FROM ledger_transfers")).scalar()
        self.conn.rollback()
        return n

    def read_balance(self, idx):
        return self.book.balance(self.codes[idx])

    # -- checks (outside the clock) -------------------------------------------
    def check_balances(self, net):
        """Read every account the workload touched back through book.balance() and compare with
        funding + the transfer sequence.  Returns how many were checked."""
        bad = []
        for idx, delta in sorted(net.items()):
            want = (FUND * WALLETS - delta) if idx == SRC else ((FUND if 1 <= idx <= WALLETS else 0) + delta)
            got = self.book.balance(self.codes[idx]).posted
            if got != want:
                bad.append(f"{self.codes[idx]}: {got} != {want}")
        self.conn.rollback()
        if bad:
            raise RuntimeError(f"{len(bad)} balances differ from the transfers: {bad[:5]}")
        return len(net)

    def verify(self):
        self.conn.rollback()
        problems = self.book.verify()
        self.conn.rollback()
        return problems

    def sqlite_pragmas(self):
        if not self.sqlite:
            return None
        self.conn.rollback()
        return read_sqlite_pragmas(self._raw())


class AixinSQLiteFull(Aixin):
    floor_pragmas = True


class AixinPGTx(Aixin):
    """aixin-pg with W1/W3 as BEGIN, post(), COMMIT (the caller's transaction), W1 and W3 only."""
    own_transaction = False
    workloads_only = ("w1", "w3")


DRIVERS = {"floor-pg": FloorPG, "floor-sqlite": FloorSQLite, "hordak-pg": HordakPG,
           "hordak-sqlite": HordakSQLite, "pyacc-pg": PyAcc, "pyacc-sqlite": PyAcc,
           "aixin-pg": Aixin, "aixin-sqlite": Aixin, "aixin-sqlite-full": AixinSQLiteFull,
           "aixin-tx-pg": AixinPGTx}


# ----------------------------------------------------------------------------
# Workloads (run inside the worker subprocess)
# ----------------------------------------------------------------------------
def run_w1(drv, n):
    pairs = w1_pairs(n)
    if hasattr(drv, "preload"):
        drv.preload(range(1, WALLETS + 1))
    if hasattr(drv, "key_prefix"):
        drv.key_prefix = "w1"
    t0 = time.perf_counter()
    for a, b, amt in pairs:
        drv.transfer(a, b, amt)
    dt = time.perf_counter() - t0
    return {"n": n, "seconds": dt, "value": n / dt, "unit": "transfers/s"}


def run_w2(drv, n, posts=False):
    """W2: one DB transaction of n transfers.  posts=False: the system's batch (for aixin one
    journal of n transfers); posts=True (W2p, aixin): n one-transfer post() calls."""
    pairs = w2_pairs(n)
    if hasattr(drv, "preload"):
        drv.preload([SRC] + [WALLETS + 1 + i for i in range(n)])
    if hasattr(drv, "key_prefix"):
        drv.key_prefix = {False: "w2", True: "w2p", "many": "w2b"}[posts]
    t0 = time.perf_counter()
    getattr(drv, {False: "batch", True: "batch_posts", "many": "batch_many"}[posts])(pairs)
    dt = time.perf_counter() - t0
    return {"n": n, "seconds": dt, "value": dt, "unit": "s", "rate": n / dt,
            "commit_s": getattr(drv, "commit_s", None)}


def w3_client(system, db, meta, client, n, clients, barrier, q):
    try:
        drv = DRIVERS[system](db, meta)
        pairs = w3_pairs(client, n, clients)
        if hasattr(drv, "preload"):
            group = WALLETS // clients
            drv.preload(range(1 + client * group, 1 + (client + 1) * group))
        if hasattr(drv, "key_prefix"):
            drv.key_prefix = f"w3c{client}"
        retries = 0
        errs = {}
        barrier.wait()
        t0 = time.monotonic()          # CLOCK_MONOTONIC: comparable across processes
        for a, b, amt in pairs:
            while True:
                try:
                    drv.transfer(a, b, amt)
                    break
                except drv.retryable as e:   # noqa: PERF203
                    retries += 1
                    key = f"{type(e).__name__}: {str(getattr(e, 'orig', e)).splitlines()[0][:110]}"
                    errs[key] = errs.get(key, 0) + 1
                    if retries > 50 * n:
                        raise
        t1 = time.monotonic()
        q.put({"client": client, "t0": t0, "t1": t1, "done": len(pairs), "retries": retries, "errors": errs})
    except BaseException as e:  # report instead of hanging the parent
        try:
            barrier.abort()
        except Exception:
            pass
        q.put({"client": client, "error": f"{type(e).__name__}: {e}", "tb": traceback.format_exc()})


def run_w3(system, db, meta, n, clients):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients)
    q = ctx.Queue()
    ps = [ctx.Process(target=w3_client, args=(system, db, meta, k, n, clients, barrier, q)) for k in range(clients)]
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    bad = [r for r in res if "error" in r]
    if bad:
        raise RuntimeError("W3 client failed: " + bad[0]["error"] + "\n" + bad[0].get("tb", ""))
    span = max(r["t1"] for r in res) - min(r["t0"] for r in res)
    total = sum(r["done"] for r in res)
    errors = {}
    for r in res:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {"n": total, "clients": clients, "seconds": span, "value": total / span, "unit": "transfers/s",
            "retries": sum(r["retries"] for r in res), "retry_errors": errors}


def time_reads(fn, idx, reads):
    ts = []
    for _ in range(reads):
        t0 = time.perf_counter()
        fn(idx)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def run_w4(drv, reads, reps, big, slow_ms=W4_SLOW_MS, slow_reads=W4_SLOW_READS):
    """History account H gets W4_SMALL transfers (bulk), reads are timed; then the
    history is extended to `big` transfers and reads are timed again.  Each timed set
    is `reads` reads; `reps` sets; value = median of the per-set medians.  To bound the
    runtime, a reader whose probe read takes > slow_ms uses `slow_reads` reads per set."""
    out = {}
    readers = {"read": drv.read_balance}
    if hasattr(drv, "read_balance_qs"):
        readers["read_qs"] = drv.read_balance_qs
    done = 0
    for size in (W4_SMALL, big):
        t0 = time.perf_counter()
        drv.bulk_history(SRC, H, size - done, 7)
        drv.analyze()
        load_s = time.perf_counter() - t0
        done = size
        drv.read_setup()
        for name, fn in readers.items():
            bal = fn(H)                      # warm-up (not timed)
            t0 = time.perf_counter()
            fn(H)
            probe = time.perf_counter() - t0
            n_reads = reads if probe * 1e3 <= slow_ms else min(reads, slow_reads)
            meds = [time_reads(fn, H, n_reads) for _ in range(reps)]
            out[f"{name}_{size}"] = {"history": size, "reads": n_reads, "reps_ms": [m * 1e3 for m in meds],
                                     "value": statistics.median(meds) * 1e3, "unit": "ms (median read)",
                                     "balance_seen": str(bal), "bulk_load_s": load_s}
    return out


def worker_main(args):
    system = args.worker
    meta = json.load(open(args.meta)) if args.meta and args.workload != "build" else None
    if args.workload == "build":
        drv = DRIVERS[system](args.db, None)
        meta = drv.build_template()
        json.dump(meta, open(args.meta, "w"))
        return {"ok": True}
    if args.workload == "w3":
        res = run_w3(system, args.db, meta, args.n, W3_CLIENTS)
        drv = DRIVERS[system](args.db, meta)
        check_posted(drv, res, expected=WALLETS + args.n * W3_CLIENTS)
        pairs = [p for k in range(W3_CLIENTS) for p in w3_pairs(k, args.n, W3_CLIENTS)]
        return after_run(drv, res, pairs)
    drv = DRIVERS[system](args.db, meta)
    if args.workload == "w1":
        res = check_posted(drv, run_w1(drv, args.n), expected=WALLETS + args.n)
        return after_run(drv, res, w1_pairs(args.n))
    if args.workload in ("w2", "w2p", "w2b"):
        posts = {"w2": False, "w2p": True, "w2b": "many"}[args.workload]
        res = check_posted(drv, run_w2(drv, args.n, posts=posts), expected=WALLETS + args.n)
        return after_run(drv, res, w2_pairs(args.n))
    if args.workload == "w4":
        res = run_w4(drv, args.reads, args.reps, args.n)
        if hasattr(drv, "verify"):          # aixin: the history is the project's rows, balance via the API
            got = drv.read_balance(H).posted
            if got != 7 * args.n:
                raise RuntimeError(f"W4: history balance {got}, expected {7 * args.n}")
            t0 = time.perf_counter()
            res["verify"] = problems = drv.verify()
            res["verify_s"] = time.perf_counter() - t0
            if problems:
                raise RuntimeError(f"verify() after W4 found problems: {problems[:3]}")
        if hasattr(drv, "sqlite_pragmas"):
            res["sqlite_pragmas"] = drv.sqlite_pragmas()
        return res
    raise SystemExit("unknown workload")


def check_posted(drv, res, expected):
    """After the timed section: the DB must hold exactly funding + workload transfers."""
    got = drv.count_transfers()
    res["transfers_in_db"] = got
    if got != expected:
        raise RuntimeError(f"expected {expected} transfers in the database, found {got}")
    return res


def after_run(drv, res, pairs):
    """After the timed section, for drivers that offer them: read back every touched balance
    through the library's API, run the ledger's own verify() (must be []), and record the
    SQLite pragmas the run's connection had."""
    if hasattr(drv, "check_balances"):
        res["balances_checked"] = drv.check_balances(net_flows(pairs))
    if hasattr(drv, "verify"):
        t0 = time.perf_counter()
        res["verify"] = problems = drv.verify()
        res["verify_s"] = time.perf_counter() - t0
        if problems:
            raise RuntimeError(f"verify() found problems: {problems[:3]}")
    if hasattr(drv, "sqlite_pragmas"):
        res["sqlite_pragmas"] = drv.sqlite_pragmas()
    return res


# ----------------------------------------------------------------------------
# Orchestrator
# ----------------------------------------------------------------------------
def pg_admin():
    import psycopg
    return psycopg.connect(dbname="postgres", autocommit=True, **PG)


def pg_drop(name):
    with pg_admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_create(name, template=None):
    with pg_admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for attempt in range(20):
            try:
                if template:
                    c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                else:
                    c.execute(f'CREATE DATABASE "{name}"')
                break
            except Exception as e:   # e.g. autovacuum still connected to the template
                if attempt == 19:
                    raise
                time.sleep(0.5)
        c.execute("CHECKPOINT")     # keep the copy's WAL/checkpoint out of the timed section


def new_db(system, tag, template=None):
    if is_pg(system):
        name = f"{DBPREFIX}{system.replace('-', '_')}_{tag}"
        pg_create(name, template)
        return name
    path = os.path.join(WORK, f"{system}_{tag}.sqlite3")
    for suf in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(path + suf):
            os.remove(path + suf)
    if template:
        shutil.copyfile(template, path)
        if os.path.exists(template + "-wal") and os.path.getsize(template + "-wal"):   # not checkpointed
            shutil.copyfile(template + "-wal", path + "-wal")
    return path


def drop_db(system, db):
    if is_pg(system):
        pg_drop(db)
    else:
        for suf in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(db + suf):
                os.remove(db + suf)


def call_worker(system, workload, db, meta, n=0, reads=0, reps=0, timeout=3600):
    cmd = [worker_python(system), os.path.abspath(__file__), "--worker", system, "--workload", workload,
           "--db", db, "--meta", meta, "--n", str(n), "--reads", str(reads), "--reps", str(reps)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=worker_env(system))
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    err = (p.stderr or p.stdout).strip().splitlines()
    return {"error": " | ".join(err[-3:]) if err else f"exit {p.returncode}", "stderr_tail": p.stderr[-3000:]}


def machine_info(systems=None):
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "sqlite": sqlite3.sqlite_version}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["mem"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        with pg_admin() as c:
            info["postgres"] = c.execute("SHOW server_version").fetchone()[0]
            for k in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers",
                      "max_wal_size", "max_connections"):
                info[f"pg.{k}"] = c.execute(f"SHOW {k}").fetchone()[0]
    except Exception as e:
        info["postgres"] = f"unreachable: {e}"
    if any(x.startswith("aixin-") for x in (systems or [])):
        info.update(aixin_info())
    from importlib import metadata
    for pkg in ("django-hordak", "Django", "python-accounting", "SQLAlchemy", "psycopg", "psycopg2"):
        try:
            info[f"pkg.{pkg}"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[f"pkg.{pkg}"] = None
    return info


def aixin_info():
    """The project's side: checkout, commit, interpreter and its package versions."""
    info = {"aixin.checkout": os.path.basename(AIXIN_CHECKOUT),
            "aixin.python": os.path.relpath(AIXIN_PYTHON, AIXIN_CHECKOUT)}
    try:
        git = lambda *a: subprocess.run(["git", "-C", AIXIN_CHECKOUT, *a], capture_output=True, text=True).stdout.strip()
        info["aixin.commit"] = git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if git("status", "--porcelain") else "")
    except OSError:
        pass
    code = ("import json, platform, sqlite3, sqlalchemy, psycopg, alembic; print(json.dumps({'python_version': "
            "platform.python_version(), 'sqlite': sqlite3.sqlite_version, 'SQLAlchemy': sqlalchemy.__version__, "
            "'psycopg': psycopg.__version__, 'alembic': alembic.__version__}))")
    try:
        p = subprocess.run([AIXIN_PYTHON, "-c", code], capture_output=True, text=True, timeout=120,
                           env=worker_env("aixin-pg"))
        info.update({f"aixin.{k}": v for k, v in json.loads(p.stdout).items()})
    except Exception as e:
        info["aixin.error"] = f"{type(e).__name__}: {e}"
    return info


def resolve_systems(only):
    if not only:
        return list(SYSTEMS)
    out = []
    for name in only.split(","):
        for x in ALIASES.get(name.strip(), name.strip()).split(","):
            if x not in DRIVERS:
                raise SystemExit(f"unknown system {x!r}; choose from {', '.join(SYSTEMS + EXTRA_SYSTEMS)} "
                                 f"(aliases: {', '.join(ALIASES)})")
            if x not in out:
                out.append(x)
    return out


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "s":
        return f"{v:.2f}"
    if unit.startswith("ms"):
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    return f"{v:,.0f}"


LABELS = {"floor": "raw SQL floor", "hordak": "django-hordak", "pyacc": "python-accounting",
          "aixin": "aixin ledger (this project)"}


def label_of(system):
    name = system.split("-", 1)[0]
    db = "PostgreSQL" if is_pg(system) else "SQLite"
    if system == "aixin-sqlite":
        db += " (app.db.make_engine)"
    elif system == "aixin-pg":
        db += " (W1/W3: each post its own transaction, AUTOCOMMIT)"
    elif system == "aixin-tx-pg":
        db += " (W1/W3: BEGIN, post, COMMIT)"
    elif system == "aixin-sqlite-full":
        db += " (make_engine + floor's pragmas)"
    return LABELS.get(name, name), db


def pragmas_of(r):
    """The SQLite pragmas a system's runs reported (the first run that recorded them)."""
    for w in ("w1", "w2", "w2p", "w4"):
        x = r.get(w) or {}
        for run in x.get("reps", [x]):
            if isinstance(run, dict) and run.get("sqlite_pragmas"):
                return run["sqlite_pragmas"]
    return None


def render(results, info):
    L = []
    recorded = {sy: pragmas_of(r) for sy, r in results.items() if not is_pg(sy) and "error" not in r}
    recorded = {k: v for k, v in recorded.items() if v}
    sqlite_note = ("pragmas per system, read back in each run: see below" if recorded else
                   "file DB, rollback journal, synchronous=FULL defaults")
    L.append(f"Machine: {info.get('nproc')} vCPU ({info.get('cpu', '?')}), {info.get('mem', '?')} RAM; "
             f"Python {info['python']}; PostgreSQL {info.get('postgres')} (fsync={info.get('pg.fsync')}, "
             f"synchronous_commit={info.get('pg.synchronous_commit')}, wal_sync_method={info.get('pg.wal_sync_method')}, "
             f"shared_buffers={info.get('pg.shared_buffers')}); SQLite {info['sqlite']} ({sqlite_note}).")
    L.append("")
    L.append("Packages: " + ", ".join(f"{k[4:]} {v}" for k, v in info.items() if k.startswith("pkg.")))
    if any(k.startswith("aixin.") for k in info):
        L.append("")
        L.append(f"aixin: checkout {info.get('aixin.checkout')} at {info.get('aixin.commit', '?')}; workers run by "
                 f"{info.get('aixin.python')} (Python {info.get('aixin.python_version', '?')}); SQLAlchemy "
                 f"{info.get('aixin.SQLAlchemy')}, psycopg {info.get('aixin.psycopg')}, alembic {info.get('aixin.alembic')}, "
                 f"SQLite {info.get('aixin.sqlite')}" + (f"; ERROR {info['aixin.error']}" if info.get("aixin.error") else ""))
    L.append("")
    hdr = ("| system | DB | W1 transfers/s (N) | W2 seconds (N in 1 txn) | W3 4 clients transfers/s (N total) "
           "| W4 read ms @1k history | W4 read ms @200k history |")
    L.append(hdr)
    L.append("|" + "---|" * 7)
    notes = []
    for system in SYSTEMS + EXTRA_SYSTEMS:
        r = results.get(system)
        if r is None:
            continue
        label, db = label_of(system)
        if "error" in r:
            L.append(f"| {label} | {db} | {r['error']} | | | | |")
            continue

        def cell(w, key="value"):
            x = r.get(w)
            if x is None:
                return "n/a"
            if "error" in x:
                return "FAILED (see notes)"
            reps = len(x.get("reps", []))
            s = fmt(x["median"], x["unit"])
            extra = f" (N={x['n']:,}"
            if w == "w3" and x.get("retries_total"):
                extra += f", ~{x['retries_total']:,} retries/run"
            if w == "w3" and system.startswith("aixin") and not x.get("retries_total"):
                extra += ", 0 retries"
            extra += f", {reps} run{'s' if reps != 1 else ''})"
            return s + extra

        def w2cell():
            c = cell("w2")
            if "w2p" in r:
                c = f"one journal: {c}; {r['w2p'].get('n', W2_N):,} one-transfer post() calls: {cell('w2p')}"
            if "w2b" in r:
                c += f"; the same in one post_many(): {cell('w2b')}"
            return c

        def w4cell(key):
            w4 = r.get("w4")
            if not w4 or "error" in w4:
                return "FAILED" if w4 else "n/a"
            parts = []
            for reader, lbl in (("read", ""), ("read_qs", "with_balances(): ")):
                k = f"{reader}_{key}"
                if k in w4:
                    parts.append(f"{lbl}{fmt(w4[k]['value'], 'ms')} ({len(w4[k]['reps_ms'])}x{w4[k]['reads']} reads)")
            return "; ".join(parts)

        big = r.get("w4", {}).get("_big", W4_BIG)
        L.append(f"| {label} | {db} | {cell('w1')} | {w2cell()} | {cell('w3')} | {w4cell(W4_SMALL)} | "
                 f"{w4cell(big)}{'' if big == W4_BIG else f' (history={big:,})'} |")
        # verify() results (aixin): every run's verify() must have been [] (a failure fails the run)
        checked = []
        for w in ("w1", "w2", "w2p", "w2b", "w3", "w4"):
            x = r.get(w)
            if not x or "error" in x:
                continue
            runs = x.get("reps", [x])
            v = [run.get("verify") for run in runs if "verify" in run]
            if v:
                checked.append(f"{w} {sum(1 for p in v if p == [])}/{len(v)}")
        if checked:
            notes.append(f"{system}: Ledger.verify() == [] after " + ", ".join(checked) + " runs")
    for system, pr in recorded.items():
        notes.append(f"{system} SQLite pragmas: " + ", ".join(f"{k}={v}" for k, v in pr.items()))
    if notes:
        L.append("")
        L.extend(f"* {n}" for n in notes)
    return "\n".join(L)


def orchestrate(args):
    os.makedirs(WORK, exist_ok=True)
    systems = resolve_systems(args.only)
    info = machine_info(systems)
    print(json.dumps(info, indent=1), flush=True)
    results = {}
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    for system in systems:
        scale = args.pyacc_scale if system.startswith("pyacc") else 1.0
        sizes = {"w1": max(1, int(W1_N * scale)), "w2": max(1, int(W2_N * scale)),
                 "w3": max(1, int(W3_N * scale))}
        meta = os.path.join(WORK, f"{system}.meta.json")
        py = worker_python(system)
        if not os.path.exists(py):
            log(f"{system}: worker interpreter {py} not found")
            results[system] = {"error": f"worker interpreter {py} not found (--aixin-python / --worker-python)"}
            continue
        tmpl = new_db(system, "tmpl")
        log(f"{system}: building template {tmpl}")
        t0 = time.time()
        r = call_worker(system, "build", tmpl, meta)
        if "error" in r:
            log(f"{system}: template build FAILED: {r['error']}")
            results[system] = {"error": "template build failed: " + r["error"].split(" | ")[-1][:160]}
            drop_db(system, tmpl)
            continue
        log(f"{system}: template built in {time.time() - t0:.1f}s")
        res = results[system] = {}
        try:
            m = json.load(open(meta))
            res["template"] = {k: v for k, v in m.items() if k != "ids"}
        except (OSError, ValueError):
            pass
        w2p = ["w2p"] if getattr(DRIVERS[system], "has_w2_posts", False) else []
        w2b = ["w2b"] if getattr(DRIVERS[system], "has_w2_many", False) else []
        workloads = ["w1", "w2"] + w2p + w2b + (["w3"] if is_pg(system) else []) + ["w4"]
        only = getattr(DRIVERS[system], "workloads_only", None)
        if only:
            workloads = [w for w in workloads if w in only]
        if args.workloads:
            wanted = args.workloads.split(",")
            workloads = [w for w in workloads if w in wanted or (w in ("w2p", "w2b") and "w2" in wanted)]
        sizes["w2p"] = sizes["w2b"] = sizes["w2"]
        for w in workloads:
            if w == "w4":
                db = new_db(system, "w4", tmpl)
                reads = args.w4_reads
                big = W4_BIG
                x = call_worker(system, "w4", db, meta, n=big, reads=reads, reps=args.reps)
                drop_db(system, db)
                if "error" in x:
                    log(f"{system} w4 FAILED: {x['error']}")
                    res["w4"] = {"error": x["error"], "stderr_tail": x.get("stderr_tail")}
                else:
                    x["_big"] = big
                    res["w4"] = x
                    log(f"{system} w4: " + ", ".join(f"{k}={v['value']:.3f}ms (load {v['bulk_load_s']:.1f}s)"
                                                     for k, v in x.items() if isinstance(v, dict) and "value" in v)
                        + (f", verify()={x['verify']} ({x['verify_s']:.1f}s)" if "verify" in x else ""))
                continue
            runs = []
            for rep in range(args.reps):
                db = new_db(system, f"{w}_{rep}", tmpl)
                x = call_worker(system, w, db, meta, n=sizes[w])
                drop_db(system, db)
                if "error" in x:
                    log(f"{system} {w} rep {rep} FAILED: {x['error']}")
                    res[w] = {"error": x["error"], "stderr_tail": x.get("stderr_tail")}
                    break
                runs.append(x)
                log(f"{system} {w} rep {rep}: {x['value']:.2f} {x['unit']} (n={x['n']}, {x['seconds']:.2f}s"
                    + (f", retries={x['retries']}" if 'retries' in x else "")
                    + (f", balances checked={x['balances_checked']}" if 'balances_checked' in x else "")
                    + (f", verify()={x['verify']} ({x['verify_s']:.1f}s)" if 'verify' in x else "") + ")")
            else:
                res[w] = {"reps": runs, "median": statistics.median(r["value"] for r in runs),
                          "unit": runs[0]["unit"], "n": runs[0]["n"],
                          "retries_total": sum(r.get("retries", 0) for r in runs) // max(1, len(runs))}
        drop_db(system, tmpl)
    info["total_runtime_s"] = round(time.time() - t_start, 1)
    info["systems"] = systems
    info["pyacc_scale"] = args.pyacc_scale
    info["reps"] = args.reps
    table = render(results, info)
    print("\n" + table + "\n", flush=True)
    log("done")
    out = args.out or HERE
    tag = args.tag or "results"
    with open(os.path.join(out, f"{tag}.json"), "w") as f:
        json.dump({"machine": info, "results": results}, f, indent=1, default=str)
    with open(os.path.join(out, f"{tag}.md"), "w") as f:
        f.write(f"# {tag} ({datetime.now():%Y-%m-%d %H:%M}, runtime {info['total_runtime_s']}s)\n\n{table}\n")


def main():
    global AIXIN_CHECKOUT, AIXIN_PYTHON
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated systems (default: all of " + ",".join(SYSTEMS)
                    + "); also " + ",".join(EXTRA_SYSTEMS) + "; aliases "
                    + ", ".join(f"{k}={v}" for k, v in ALIASES.items()))
    ap.add_argument("--aixin-checkout", default=AIXIN_CHECKOUT,
                    help="the project's checkout (default $AIXIN_CHECKOUT or the current directory); on the aixin workers' PYTHONPATH")
    ap.add_argument("--aixin-python", default=None,
                    help="interpreter for the aixin-* workers (default $AIXIN_PYTHON or <checkout>/.venv/bin/python)")
    ap.add_argument("--worker-python", action="append", default=[], metavar="SYSTEM=PATH",
                    help="run this system's workers with another interpreter (repeatable)")
    ap.add_argument("--workloads", help="comma-separated subset of w1,w2,w3,w4")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pyacc-scale", type=float, default=0.1,
                    help="scale W1/W2/W3 sizes for python-accounting (default 0.1; 1 = full spec)")
    ap.add_argument("--w4-reads", type=int, default=W4_READS)
    ap.add_argument("--out", help="directory for <tag>.json / <tag>.md (default: next to this script)")
    ap.add_argument("--tag", help="output file stem (default: results)")
    # internal
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--meta", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--reads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--render", metavar="JSON", help="only re-print the table of an earlier results JSON")
    args = ap.parse_args()
    if not args.worker:             # workers inherit AIXIN_CHECKOUT / AIXIN_PYTHON from the environment
        AIXIN_CHECKOUT = os.path.abspath(args.aixin_checkout)
        AIXIN_PYTHON = (args.aixin_python or os.environ.get("AIXIN_PYTHON")
                        or os.path.join(AIXIN_CHECKOUT, ".venv", "bin", "python"))
        os.environ["AIXIN_CHECKOUT"], os.environ["AIXIN_PYTHON"] = AIXIN_CHECKOUT, AIXIN_PYTHON
        for item in args.worker_python:
            system, _, path = item.partition("=")
            WORKER_PYTHON[system] = path
    if args.render:
        d = json.load(open(args.render))
        print(render(d["results"], d["machine"]))
        return
    if args.worker:
        res = worker_main(args)
        print("RESULT " + json.dumps(res, default=str), flush=True)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
