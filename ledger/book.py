"""The Ledger: opens accounts and posts balanced journals inside the caller's transaction.

It never commits: on the caller's transaction, the caller commits. On a PostgreSQL connection in
AUTOCOMMIT each write is a transaction of its own instead — a one-transfer post() is then one statement
and one round trip, commit included; any other write runs in a transaction block the ledger opens and
ends around it (see docs/ledger.md, "A post as its own transaction").

Every write locks the accounts it touches (in code order, so two journals over
the same accounts cannot deadlock), checks the request, then appends rows and updates the cached
balances on the account rows. Nothing is written before every check has passed, so a LedgerError
leaves the caller's transaction as it was.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import errors
from .chain import GENESIS, entry_hash
from .schema import accounts, entries, journals, transfers
from .types import Account, Balance, Journal, JournalSpec, Page, Resolution, StatementLine, Transfer

_UNIT = re.compile(r"^[A-Z]{2,8}$")
_CHUNK = 2000  # bind parameters per IN (...) list; well under SQLite's limit
MAX_CODE = 200
# 10^15 fen is ten trillion yuan: far beyond any real posting, and far inside a 64-bit column even
# summed over millions of postings.
MAX_AMOUNT = 10**15
MAX_TOTAL = 2**62
MAX_KEY = 200


# Hot-path statements, built once: SQLAlchemy then only binds values (building a statement per call
# costs more than the SQLite round trip it sends).
_ACCOUNTS_BY_CODE = (
    select(accounts)
    .where(accounts.c.tenant_id == bindparam("tenant"), accounts.c.code.in_(bindparam("codes", expanding=True)))
    .order_by(accounts.c.code)
)
# The settings of the accounts `open_accounts` is asked for (built once: a check-out opens its source each time).
_SETTINGS_BY_CODE = select(accounts.c.code, accounts.c.unit, accounts.c.normal, accounts.c.no_overdraft).where(
    accounts.c.tenant_id == bindparam("tenant"), accounts.c.code.in_(bindparam("codes", expanding=True))
)
_KEY_USED = select(journals.c.id, journals.c.request_hash).where(
    journals.c.tenant_id == bindparam("tenant"), journals.c.key == bindparam("key")
)
_KEYS_USED = select(journals.c.id, journals.c.key, journals.c.request_hash).where(
    journals.c.tenant_id == bindparam("tenant"), journals.c.key.in_(bindparam("keys", expanding=True))
)
_INSERT_JOURNAL = insert(journals)
# SQLite: a key taken already gives no row instead of an error (the caller then says which journal).
_INSERT_JOURNAL_SQLITE = sqlite_insert(journals).on_conflict_do_nothing().returning(journals.c.id)
_MAX_IDS = select(
    select(func.coalesce(func.max(journals.c.id), 0)).scalar_subquery(),
    select(func.coalesce(func.max(transfers.c.id), 0)).scalar_subquery(),
)

# PostgreSQL: the accounts locked in code order and the new rows' ids reserved, in one round trip.
_IDS_PG = (
    "SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('ledger_journals', 'id'))"
    " FROM generate_series(1, %(nj)s)) AS jids,"
    " ARRAY(SELECT nextval(pg_get_serial_sequence('ledger_transfers', 'id'))"
    " FROM generate_series(1, %(nt)s)) AS tids"
)
_RESERVE_PG = _IDS_PG
# A journal id taken ahead of the post (Ledger.post's `journal_id`), as an SQL expression a caller's own
# statement can include (no round trip of its own). Ids from the sequence are never reused.
NEXT_JOURNAL_ID_PG = "nextval(pg_get_serial_sequence('ledger_journals', 'id'))"
_RESERVE_WITH_LOCK = 16  # ids reserved in the locking statement up to this many rows
# (ctid: where the row's current version is, so the one-transfer write updates it without an index
# lookup — see _WRITE_ONE_PG.)
_ACCOUNT_COLUMNS = (
    "a.id, a.code, a.unit, a.normal, a.no_overdraft, a.closed, a.debits_posted, a.credits_posted,"
    " a.debits_pending, a.credits_pending, a.entry_count, a.head_hash, a.ctid::text"
)
_LOCK_AND_RESERVE_PG = (
    f"WITH ids AS MATERIALIZED ({_IDS_PG})"
    f" SELECT {_ACCOUNT_COLUMNS}, ids.jids, ids.tids FROM ledger_accounts a CROSS JOIN ids"
    " WHERE a.tenant_id = %(tenant)s AND a.code = ANY(%(codes)s::varchar[])"
    " ORDER BY a.code FOR UPDATE OF a"
)
# The same for the commonest journal (one transfer: two accounts, one journal id, one transfer id) with
# scalar parameters: PostgreSQL then plans it once per connection (a generic plan) instead of planning
# the array form anew on every call (its generic plan's estimate for an array of unknown length loses).
_LOCK_AND_RESERVE_ONE_PG = (
    "WITH ids AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('ledger_journals', 'id')) AS jid,"
    " nextval(pg_get_serial_sequence('ledger_transfers', 'id')) AS tid)"
    f" SELECT {_ACCOUNT_COLUMNS}, ARRAY[ids.jid], ARRAY[ids.tid] FROM ledger_accounts a CROSS JOIN ids"
    " WHERE a.tenant_id = %(tenant)s AND a.code IN (%(c1)s, %(c2)s)"
    " ORDER BY a.code FOR UPDATE OF a"
)
# The same for a small journal (one journal of 2 to _SMALL_TRANSFERS transfers, at most _SMALL_CODES
# accounts: a redemption's points and goods): _SMALL_CODES scalar codes (the last repeated to fill them)
# and the transfer ids as a fixed ARRAY[nextval(), …] per transfer count, so each form has a generic
# plan, made once per connection (the array form above is planned on every call).
_SMALL_CODES = 8
_SMALL_TRANSFERS = 4
_SMALL_CODE_PARAMS = tuple(f"c{i + 1}" for i in range(_SMALL_CODES))
_LOCK_AND_RESERVE_SMALL_PG = {
    n: (
        "WITH ids AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('ledger_journals', 'id')) AS jid,"
        " ARRAY[" + ", ".join(["nextval(pg_get_serial_sequence('ledger_transfers', 'id'))"] * n) + "] AS tids)"
        f" SELECT {_ACCOUNT_COLUMNS}, ARRAY[ids.jid], ids.tids FROM ledger_accounts a CROSS JOIN ids"
        " WHERE a.tenant_id = %(tenant)s AND a.code IN ("
        + ", ".join(f"%({c})s" for c in _SMALL_CODE_PARAMS)
        + ") ORDER BY a.code FOR UPDATE OF a"
    )
    for n in range(2, _SMALL_TRANSFERS + 1)
}
_RESERVE_ONE_PG = (
    "SELECT ARRAY[nextval(pg_get_serial_sequence('ledger_journals', 'id'))],"
    " ARRAY[nextval(pg_get_serial_sequence('ledger_transfers', 'id'))]"
)
# One array parameter instead of a list of thousands of placeholders (a batch locks thousands).
_LOCK_PG = (
    f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts a"
    " WHERE a.tenant_id = %(tenant)s AND a.code = ANY(%(codes)s::varchar[])"
    " ORDER BY a.code FOR UPDATE OF a"
)
_KEYS_USED_PG = (
    "SELECT id, key, request_hash FROM ledger_journals WHERE tenant_id = %(tenant)s AND key = ANY(%(keys)s::varchar[])"
)
# Batch resolution (PostgreSQL): in one statement each, the pending journals named, the journals that
# already resolve them and the journals holding the batch's keys; then their pending transfers with both
# accounts' codes; and, once the accounts are locked, what a concurrent writer committed meanwhile.
_JOURNAL_COLUMNS = (
    "id, kind, key, memo, pending, created_at, expires_at, effective_at, meta, resolves_id, resolution,"
    " reverses_id, request_hash"
)
# One index per part (UNION ALL, not OR: an OR of three arrays makes the planner filter every journal of
# the tenant against them). A row found twice (a resolution holding one of the keys) is harmless.
_RESOLVES_OR_KEYS_PG = (
    f"SELECT {_JOURNAL_COLUMNS} FROM ledger_journals"
    " WHERE tenant_id = %(tenant)s AND resolves_id = ANY(%(ids)s::bigint[])"
    f" UNION ALL SELECT {_JOURNAL_COLUMNS} FROM ledger_journals"
    " WHERE tenant_id = %(tenant)s AND key = ANY(%(keys)s::varchar[])"
)
_RESOLVE_READ_PG = (
    f"SELECT {_JOURNAL_COLUMNS} FROM ledger_journals WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s::bigint[])"
    f" UNION ALL {_RESOLVES_OR_KEYS_PG}"
)
_RESOLVE_RECHECK_PG = _RESOLVES_OR_KEYS_PG
_PENDING_TRANSFERS_PG = (
    "SELECT t.id, t.journal_id, t.amount, t.debit_account_id, t.credit_account_id,"
    " d.code AS debit_code, c.code AS credit_code"
    " FROM ledger_transfers t JOIN ledger_accounts d ON d.id = t.debit_account_id"
    " JOIN ledger_accounts c ON c.id = t.credit_account_id"
    " WHERE t.journal_id = ANY(%(ids)s::bigint[]) ORDER BY t.id"
)
_DEBIT, _CREDIT = accounts.alias("d"), accounts.alias("c")
_PENDING_TRANSFERS = (
    select(
        transfers.c.id,
        transfers.c.journal_id,
        transfers.c.amount,
        transfers.c.debit_account_id,
        transfers.c.credit_account_id,
        _DEBIT.c.code.label("debit_code"),
        _CREDIT.c.code.label("credit_code"),
    )
    .join(_DEBIT, _DEBIT.c.id == transfers.c.debit_account_id)
    .join(_CREDIT, _CREDIT.c.id == transfers.c.credit_account_id)
    .where(transfers.c.journal_id.in_(bindparam("ids", expanding=True)))
    .order_by(transfers.c.id)
)
# PostgreSQL: journals, transfers, entries and the accounts' new totals in one statement (one round
# trip). The journals go in first with ON CONFLICT DO NOTHING; everything else is written only when
# every journal went in, so a lost race on a key, a resolution or a reversal writes nothing at all.
_WRITE_PG = """
WITH j AS (
  INSERT INTO ledger_journals (id, tenant_id, kind, key, memo, pending, expires_at, effective_at, meta,
                               resolves_id, resolution, reverses_id, request_hash, created_at)
  SELECT u.id, u.tenant_id, u.kind, u.key, u.memo, u.pending, u.expires_at, u.effective_at, u.meta::json,
         u.resolves_id, u.resolution, u.reverses_id, u.request_hash, %(now)s::timestamp
  FROM unnest(%(j_id)s::bigint[], %(j_tenant)s::bigint[], %(j_kind)s::varchar[], %(j_key)s::varchar[],
              %(j_memo)s::text[], %(j_pending)s::boolean[], %(j_expires)s::timestamp[],
              %(j_effective)s::timestamp[], %(j_meta)s::text[], %(j_resolves)s::bigint[],
              %(j_resolution)s::varchar[], %(j_reverses)s::bigint[], %(j_request)s::bytea[])
    AS u(id, tenant_id, kind, key, memo, pending, expires_at, effective_at, meta, resolves_id, resolution,
         reverses_id, request_hash)
  ON CONFLICT DO NOTHING
  RETURNING id
), whole AS (
  SELECT count(*) = %(nj)s AS ok FROM j
), t AS (
  INSERT INTO ledger_transfers (id, journal_id, debit_account_id, credit_account_id, unit, amount, phase,
                                pending_transfer_id)
  SELECT u.* FROM unnest(%(t_id)s::bigint[], %(t_journal)s::bigint[], %(t_debit)s::bigint[],
                         %(t_credit)s::bigint[], %(t_unit)s::varchar[], %(t_amount)s::bigint[],
                         %(t_phase)s::varchar[], %(t_pending)s::bigint[]) AS u
  WHERE (SELECT ok FROM whole)
), e AS (
  INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta,
                              balance_after, created_at, hash)
  SELECT u.a, u.seq, u.tr, u.j, u.pd, u.qd, u.bal, %(now)s::timestamp, u.h
  FROM unnest(%(e_account)s::bigint[], %(e_seq)s::bigint[], %(e_transfer)s::bigint[], %(e_journal)s::bigint[],
              %(e_posted)s::bigint[], %(e_pending)s::bigint[], %(e_balance)s::bigint[], %(e_hash)s::bytea[])
    AS u(a, seq, tr, j, pd, qd, bal, h)
  WHERE (SELECT ok FROM whole)
), a AS (
  UPDATE ledger_accounts SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq,
         credits_pending = u.cq, entry_count = u.n, head_hash = u.h
  FROM unnest(%(a_id)s::bigint[], %(a_dp)s::bigint[], %(a_cp)s::bigint[], %(a_dq)s::bigint[],
              %(a_cq)s::bigint[], %(a_n)s::bigint[], %(a_h)s::bytea[]) AS u(id, dp, cp, dq, cq, n, h)
  WHERE ledger_accounts.id = u.id AND (SELECT ok FROM whole)
)
SELECT id FROM j
"""
# The same for the commonest journal, one transfer (two entries, two accounts), with plain parameters:
# psycopg dumps a dozen scalars faster than three dozen one-element arrays.
_WRITE_ONE_PG = """
WITH j AS (
  INSERT INTO ledger_journals (id, tenant_id, kind, key, memo, pending, expires_at, effective_at, meta,
                               resolves_id, resolution, reverses_id, request_hash, created_at)
  VALUES (%(j_id)s, %(j_tenant)s, %(j_kind)s, %(j_key)s, %(j_memo)s, %(j_pending)s, %(j_expires)s::timestamp,
          %(j_effective)s::timestamp, %(j_meta)s::json, %(j_resolves)s::bigint, %(j_resolution)s,
          %(j_reverses)s::bigint, %(j_request)s, %(now)s)
  ON CONFLICT DO NOTHING
  RETURNING id
), t AS (
  INSERT INTO ledger_transfers (id, journal_id, debit_account_id, credit_account_id, unit, amount, phase,
                                pending_transfer_id)
  SELECT %(t_id)s, j.id, %(t_debit)s, %(t_credit)s, %(t_unit)s, %(t_amount)s, %(t_phase)s,
         %(t_pending)s::bigint FROM j
), e AS (
  INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta,
                              balance_after, created_at, hash)
  SELECT v.a, v.seq, %(t_id)s, j.id, v.pd, v.qd, v.bal, %(now)s, v.h
  FROM j, (VALUES (%(e1_a)s::bigint, %(e1_seq)s::bigint, %(e1_pd)s::bigint, %(e1_qd)s::bigint,
                   %(e1_bal)s::bigint, %(e1_h)s::bytea),
                  (%(e2_a)s, %(e2_seq)s, %(e2_pd)s, %(e2_qd)s, %(e2_bal)s, %(e2_h)s)) AS v(a, seq, pd, qd, bal, h)
), a AS (
  UPDATE ledger_accounts SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dq,
         credits_pending = v.cq, entry_count = v.n, head_hash = v.h
  FROM j, (VALUES (%(a1_id)s::bigint, %(a1_dp)s::bigint, %(a1_cp)s::bigint, %(a1_dq)s::bigint,
                   %(a1_cq)s::bigint, %(a1_n)s::bigint, %(a1_h)s::bytea),
                  (%(a2_id)s, %(a2_dp)s, %(a2_cp)s, %(a2_dq)s, %(a2_cq)s, %(a2_n)s, %(a2_h)s))
       AS v(id, dp, cp, dq, cq, n, h)
  WHERE ledger_accounts.ctid = ANY(ARRAY[%(a1_ct)s::tid, %(a2_ct)s::tid]) AND ledger_accounts.id = v.id
    AND ledger_accounts.entry_count = v.n - 1
  RETURNING ledger_accounts.id, ledger_accounts.ctid::text AS ct
)
SELECT j.id, (SELECT ct FROM a WHERE a.id = %(a1_id)s), (SELECT ct FROM a WHERE a.id = %(a2_id)s),
       -- Never fires: both rows are locked by this transaction and were read (or last written) by it. Should
       -- a row not be where and as it was read, the statement fails (and with it the transaction) rather
       -- than leave a journal whose accounts were not updated.
       (CASE WHEN (SELECT count(*) FROM a) = 2 THEN NULL
             ELSE 'ledger: an account row changed under this transaction' END)::int
FROM j
"""


# _WRITE_PG for one journal of a few transfers (a redemption: 3 transfers, 6 accounts): the journal's
# columns as scalar parameters (psycopg dumps them in C), the transfers, entries and accounts as the
# array literals of _WRITE_PG (_arr_int…, built as one string each). 35 parameters, so psycopg caches
# its parse of the statement: it parses a statement anew on every call when it has more than 50
# parameters (psycopg._queries.MAX_CACHED_STATEMENT_PARAMS), and the earlier form, one scalar per
# column of every VALUES row (119 for a redemption), spent about 0.3 ms of client CPU per post in that
# parse alone (docs/outlets.md, "Redemption: records first"). One text for every size, so one prepared
# statement per connection. As in _WRITE_PG, the transfers, entries and accounts are written only when
# the journal went in.
_WRITE_SMALL_PG = """
WITH j AS (
  INSERT INTO ledger_journals (id, tenant_id, kind, key, memo, pending, expires_at, effective_at, meta,
                               resolves_id, resolution, reverses_id, request_hash, created_at)
  VALUES (%(j_id)s::bigint, %(j_tenant)s::bigint, %(j_kind)s::varchar, %(j_key)s::varchar, %(j_memo)s::text,
          %(j_pending)s::boolean, %(j_expires)s::timestamp, %(j_effective)s::timestamp, %(j_meta)s::json,
          %(j_resolves)s::bigint, %(j_resolution)s::varchar, %(j_reverses)s::bigint, %(j_request)s::bytea,
          %(now)s::timestamp)
  ON CONFLICT DO NOTHING
  RETURNING id
), t AS (
  INSERT INTO ledger_transfers (id, journal_id, debit_account_id, credit_account_id, unit, amount, phase,
                                pending_transfer_id)
  SELECT u.id, j.id, u.debit, u.credit, u.unit, u.amount, u.phase, u.pending
  FROM j, unnest(%(t_id)s::bigint[], %(t_debit)s::bigint[], %(t_credit)s::bigint[], %(t_unit)s::varchar[],
                 %(t_amount)s::bigint[], %(t_phase)s::varchar[], %(t_pending)s::bigint[])
    AS u(id, debit, credit, unit, amount, phase, pending)
), e AS (
  INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta,
                              balance_after, created_at, hash)
  SELECT u.a, u.seq, u.tr, j.id, u.pd, u.qd, u.bal, %(now)s::timestamp, u.h
  FROM j, unnest(%(e_account)s::bigint[], %(e_seq)s::bigint[], %(e_transfer)s::bigint[], %(e_posted)s::bigint[],
                 %(e_pending)s::bigint[], %(e_balance)s::bigint[], %(e_hash)s::bytea[])
    AS u(a, seq, tr, pd, qd, bal, h)
), a AS (
  UPDATE ledger_accounts SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq,
         credits_pending = u.cq, entry_count = u.n, head_hash = u.h
  FROM j, unnest(%(a_id)s::bigint[], %(a_dp)s::bigint[], %(a_cp)s::bigint[], %(a_dq)s::bigint[],
                 %(a_cq)s::bigint[], %(a_n)s::bigint[], %(a_h)s::bytea[]) AS u(id, dp, cp, dq, cq, n, h)
  WHERE ledger_accounts.id = u.id
)
SELECT id FROM j
"""

# PostgreSQL, the commonest post of all: one transfer over two accounts this transaction has not locked
# yet (a payment, a scan, an award — each its own transaction). Lock, check, reserve ids, hash-chain and
# write in ONE statement (one round trip besides BEGIN and COMMIT):
#   l    locks both accounts in code order and reads them as they stand now (FOR UPDATE returns the
#        newest committed version, after waiting for a concurrent writer), with where that version is
#        (lt, its ctid); the only CTE besides h that is materialised for its own sake;
#   v, n their totals once the transfer is applied (posted, or pending when the journal is pending):
#        NOT MATERIALIZED, so each use is a projection of l, not a stored copy; and `stale`: whether
#        the locked row is newer than the version the statement's snapshot sees (a concurrent writer
#        committed it while this statement waited for the lock): the locked version is fetched by
#        ctid under the snapshot (a TID scan), and one it cannot see is newer. The UPDATE below, under
#        the same snapshot, would then not update it, so nothing is written and post() writes through
#        the two-statement path, whose next statement has a new snapshot;
#   ids  the journal and transfer ids, reserved (nextval) only when every check post() makes in Python
#        (_rows, _apply) passed: HAVING both accounts found, neither closed, one unit, no no_overdraft
#        account below zero room, no total above MAX_TOTAL, and no row stale (the aggregate's HAVING is
#        tested before its select list, so a refused post takes no ids). The sequences are named
#        (SQLAlchemy's BIGSERIAL names them <table>_id_seq): pg_get_serial_sequence() would look them
#        up in the catalogue on every call;
#   h    each account's entry: seq, deltas, balance after, and its hash, computed exactly as
#        ledger.chain.entry_hash does (sha256 of the previous head and the '|'-joined decimal/text
#        parts; the time is the client's own isoformat string of the `now` stored in created_at);
#   j..a the rows, as _WRITE_ONE_PG writes them: the journal first with ON CONFLICT (tenant_id, key)
#        DO NOTHING (the one index a new journal's id, resolves_id and reverses_id cannot collide in),
#        and the rest only when it went in; the accounts are updated at the locked version's ctid (a
#        TID scan, no index), checked against the id and entry count read (should an account not be
#        updated, the statement fails: the CASE … ::int below).
# The result is one row per account found (in no promised order): its state before the post (so a
# refused post is explained by the same Python checks as the two-statement path), then the new journal's
# id (NULL when nothing was written; taken from the account UPDATE's RETURNING, which joins the journal),
# the new totals, entry count, chain head and row version, the changed-row check and `stale`. (No ORDER
# BY, no count of the updated rows and one sub-select of j fewer than before: each was a plan node
# initialised on every execution; the changed-row check is per row: a journal went in but this account
# was not updated.)
_POST_ONE_PG = """
WITH l AS MATERIALIZED (
  SELECT a.id, a.code, a.unit, a.normal, a.no_overdraft, a.closed, a.debits_posted, a.credits_posted,
         a.debits_pending, a.credits_pending, a.entry_count, a.head_hash, a.ctid AS lt,
         a.code = %(d)s AS dr,
         CASE WHEN (a.normal = 'debit') = (a.code = %(d)s) THEN 1 ELSE -1 END * %(amount)s::bigint AS delta
  FROM ledger_accounts a WHERE a.tenant_id = %(tenant)s AND a.code IN (%(d)s, %(c)s)
  ORDER BY a.code FOR UPDATE OF a
), v AS NOT MATERIALIZED (
  SELECT l.*, CASE WHEN %(pending)s THEN 0 ELSE delta END AS pd, CASE WHEN %(pending)s THEN delta ELSE 0 END AS qd,
         debits_posted + CASE WHEN dr AND NOT %(pending)s THEN %(amount)s::bigint ELSE 0 END AS dp,
         credits_posted + CASE WHEN dr OR %(pending)s THEN 0 ELSE %(amount)s::bigint END AS cp,
         debits_pending + CASE WHEN dr AND %(pending)s THEN %(amount)s::bigint ELSE 0 END AS dq,
         credits_pending + CASE WHEN NOT dr AND %(pending)s THEN %(amount)s::bigint ELSE 0 END AS cq,
         NOT EXISTS (SELECT FROM ledger_accounts s WHERE s.ctid = l.lt) AS stale
  FROM l
), n AS NOT MATERIALIZED (
  SELECT v.*, CASE WHEN normal = 'credit' THEN cp - dp ELSE dp - cp END AS bal,
         CASE WHEN normal = 'credit' THEN cp - dp - dq ELSE dp - cp - cq END AS room
  FROM v
), ids AS MATERIALIZED (
  SELECT nextval('ledger_journals_id_seq') AS jid, nextval('ledger_transfers_id_seq') AS tid,
         max(id) FILTER (WHERE dr) AS did, max(id) FILTER (WHERE NOT dr) AS cid, min(unit) AS unit
  FROM n
  HAVING NOT bool_or(stale) AND count(*) = 2 AND NOT bool_or(closed) AND min(unit) = max(unit)
         AND NOT bool_or(no_overdraft AND room < 0)
         AND max(greatest(dp, cp, dq, cq)) <= %(max_total)s::bigint
), h AS MATERIALIZED (
  SELECT n.id, n.lt, n.entry_count + 1 AS seq, dp, cp, dq, cq, bal, pd, qd, tid,
         sha256(head_hash || convert_to(concat_ws('|', n.id, n.entry_count + 1, tid, jid, pd, qd, bal,
                %(now_iso)s::text, did, cid, ids.unit, %(amount)s::bigint, %(phase)s::text, 'None'), 'UTF8')) AS hh
  FROM n, ids
), j AS (
  INSERT INTO ledger_journals (id, tenant_id, kind, key, memo, pending, expires_at, effective_at, meta,
                               resolves_id, resolution, reverses_id, request_hash, created_at)
  SELECT jid, %(tenant)s, %(kind)s::varchar, %(key)s::varchar, %(memo)s::text, %(pending)s::boolean,
         %(expires)s::timestamp, %(effective)s::timestamp, %(meta)s::json, NULL, NULL, NULL, %(request)s::bytea,
         %(now)s::timestamp
  FROM ids
  ON CONFLICT (tenant_id, key) DO NOTHING
  RETURNING id
), t AS (
  INSERT INTO ledger_transfers (id, journal_id, debit_account_id, credit_account_id, unit, amount, phase,
                                pending_transfer_id)
  SELECT tid, j.id, did, cid, unit, %(amount)s::bigint, %(phase)s::varchar, NULL FROM j, ids
), e AS (
  INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta,
                              balance_after, created_at, hash)
  SELECT h.id, seq, tid, j.id, pd, qd, bal, %(now)s::timestamp, hh FROM j, h
), a AS (
  UPDATE ledger_accounts SET debits_posted = dp, credits_posted = cp, debits_pending = dq,
         credits_pending = cq, entry_count = seq, head_hash = hh
  FROM j, h
  WHERE ledger_accounts.ctid = h.lt AND ledger_accounts.id = h.id AND ledger_accounts.entry_count = seq - 1
  RETURNING ledger_accounts.id, ledger_accounts.ctid::text AS ct, j.id AS jid
)
SELECT n.id, n.code, n.unit, normal, no_overdraft, closed, debits_posted, credits_posted,
       debits_pending, credits_pending, entry_count, head_hash, coalesce(a.ct, n.lt::text),
       a.jid, h.dp, h.cp, h.dq, h.cq, h.seq, h.hh,
       (CASE WHEN a.id IS NULL AND EXISTS (SELECT FROM j)
             THEN 'ledger: an account row changed under this transaction' END)::int,
       n.stale
FROM n LEFT JOIN h ON h.id = n.id LEFT JOIN a ON a.id = n.id
"""
# (Sent as one line: psycopg caches the conversion of a statement text only up to 4,096 characters.)
_POST_ONE_PG = " ".join(_POST_ONE_PG.split())
# SQLite, a one-transfer post: the statements of the general path written out for the DBAPI cursor
# (SQLAlchemy's execute costs more client time than SQLite takes to run them); values are stored through
# the columns' own SQLAlchemy bind processors (_sqlite_binders), so the rows are the same to the byte.
_LOCK_ONE_SQLITE = (
    "SELECT id, code, unit, normal, no_overdraft, closed, debits_posted, credits_posted, debits_pending,"
    " credits_pending, entry_count, head_hash FROM ledger_accounts WHERE tenant_id = ? AND code IN (?, ?)"
    " ORDER BY code"
)
_MAX_IDS_SQLITE = (
    "SELECT (SELECT coalesce(max(id), 0) FROM ledger_journals), (SELECT coalesce(max(id), 0) FROM ledger_transfers)"
)
_INSERT_JOURNAL_ONE_SQLITE = (
    "INSERT INTO ledger_journals (id, tenant_id, kind, key, memo, pending, expires_at, effective_at, meta,"
    " resolves_id, resolution, reverses_id, request_hash, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?) ON CONFLICT DO NOTHING RETURNING id"
)
_INSERT_TRANSFER_ONE_SQLITE = (
    "INSERT INTO ledger_transfers (id, journal_id, debit_account_id, credit_account_id, unit, amount, phase,"
    " pending_transfer_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
)
_INSERT_ENTRY_SQLITE = (
    "INSERT INTO ledger_entries (account_id, seq, transfer_id, journal_id, posted_delta, pending_delta,"
    " balance_after, created_at, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_ACCOUNT_SQLITE = (
    "UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?, debits_pending = ?, credits_pending = ?,"
    " entry_count = ?, head_hash = ? WHERE id = ?"
)
_BINDERS: dict[Any, tuple] = {}


def _sqlite_binders(dialect) -> tuple:
    """The bind processors of the SQLite one-transfer post's typed columns: (time, boolean, json)."""
    got = _BINDERS.get(dialect)
    if got is None:
        ident = lambda v: v  # noqa: E731

        def proc(col):
            return col.type.dialect_impl(dialect).bind_processor(dialect) or ident

        got = _BINDERS[dialect] = (proc(journals.c.created_at), proc(journals.c.pending), proc(journals.c.meta))
    return got


# Plain executemany: psycopg sends one prepared statement for all rows, sqlite3 loops in C.
_INSERT_TRANSFERS = insert(transfers)
_INSERT_ENTRIES = insert(entries)
_UPDATE_ACCOUNT = (
    update(accounts)
    .where(accounts.c.id == bindparam("a_id"))
    .values(
        debits_posted=bindparam("dp"),
        credits_posted=bindparam("cp"),
        debits_pending=bindparam("dq"),
        credits_pending=bindparam("cq"),
        entry_count=bindparam("n"),
        head_hash=bindparam("h"),
    )
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_CURSOR = "ledger_cursor"


def _pg_rows(conn: Connection, sql: str, params: Any, many: bool = False) -> list[Any]:
    """Run one of the PostgreSQL hot-path statements on the DBAPI cursor and return its rows as tuples.

    exec_driver_sql would build a result object, its column metadata and a row proxy per row on every
    call (about a third of the client's time per post): the statements here are fixed, their columns
    known. What SQLAlchemy gives every statement is kept: the transaction is begun as autobegin would,
    before/after_cursor_execute listeners see the statement, and a database error is wrapped and raised
    (and a lost connection invalidated) by SQLAlchemy's own handler. psycopg still prepares the statement
    once it has run prepare_threshold (5) times on the connection. The SQLite one-transfer post uses it
    too (qmark parameters; `many`: executemany, no rows)."""
    if not conn.in_transaction():
        conn.begin()
    dbapi = conn.connection.dbapi_connection
    # One cursor per DBAPI connection, kept with it (creating one costs as much as binding the write).
    cur = conn.info.get(_CURSOR)
    if cur is None or getattr(cur, "closed", False) or cur.connection is not dbapi:
        cur = conn.info[_CURSOR] = dbapi.cursor()  # type: ignore[union-attr]
    events = conn._has_events or conn.engine._has_events
    rows: list[Any] = []
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cur, sql, params, None, many)
        if many:
            cur.executemany(sql, params)
        else:
            cur.execute(sql, params)
            rows = list(cur.fetchall())
        if events:
            conn.dispatch.after_cursor_execute(conn, cur, sql, params, None, many)
    except Exception as e:
        conn._handle_dbapi_exception(e, sql, params, cur, None)
    return rows


def _autocommit(conn: Connection) -> bool:
    """True when `conn` is a PostgreSQL connection in AUTOCOMMIT (SQLAlchemy's isolation_level="AUTOCOMMIT"):
    every statement the ledger sends is then a transaction of its own."""
    return conn.dialect.name == "postgresql" and bool(getattr(conn.connection.dbapi_connection, "autocommit", False))


def _alone(conn: Connection) -> bool:
    """AUTOCOMMIT and outside any transaction block: a write of more than one statement needs a block of its own."""
    if not _autocommit(conn):
        return False
    info = getattr(conn.connection.dbapi_connection, "info", None)
    return info is None or int(info.transaction_status) == 0  # psycopg's TransactionStatus.IDLE


@contextmanager
def _own_block(conn: Connection) -> Iterator[None]:
    """A transaction block (BEGIN … COMMIT, or ROLLBACK on an exception) around one write of the ledger on an
    AUTOCOMMIT connection, so the write is still all or none and its row locks last until it is written.
    psycopg's `Connection.transaction()` opens and ends the block. The accounts the transaction cache
    (_Locked) holds belong to one block: it is emptied before and after."""
    conn.info.pop(_LOCKED, None)
    try:
        with conn.connection.dbapi_connection.transaction():  # type: ignore[union-attr]
            yield
    finally:
        conn.info.pop(_LOCKED, None)


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    """A write of the Ledger: in the caller's transaction as always; on an AUTOCOMMIT PostgreSQL connection,
    in a transaction block of its own (_own_block)."""

    @functools.wraps(method)
    def write(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        conn = self._conn
        if not _alone(conn):
            return method(self, *args, **kwargs)
        with _own_block(conn):
            return method(self, *args, **kwargs)

    return write


def _naive_utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


# Array parameters of the batch write (_WRITE_PG), each sent as ONE text value in PostgreSQL's array
# literal syntax and cast by the statement (`::bigint[]`…): psycopg adapts a Python list element by
# element (a regular expression per string to decide on quoting), about 25 ms for a page of 1,300
# one-transfer journals against under 3 ms for these. Every string element is double-quoted with
# backslash and double quote escaped, so any text (quotes, braces, commas, "NULL") arrives unchanged;
# None is the unquoted NULL.
def _arr_int(values: Iterable[int | None]) -> str:
    return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"


def _arr_text(values: Iterable[str | None]) -> str:
    return (
        "{"
        + ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "}"
    )


def _arr_bool(values: Iterable[bool]) -> str:
    return "{" + ",".join("t" if v else "f" for v in values) + "}"


def _arr_time(values: Iterable[datetime | None]) -> str:
    """Naive UTC timestamps (an aware one is converted first: `timestamp` input would drop its offset)."""
    return "{" + ",".join("NULL" if v is None else '"' + _naive_utc(v).isoformat() + '"' for v in values) + "}"  # type: ignore[union-attr]


def _arr_bytes(values: Iterable[bytes | None]) -> str:
    # bytea's hex input form, its backslash escaped for the array literal.
    return "{" + ",".join("NULL" if v is None else '"\\\\x' + bytes(v).hex() + '"' for v in values) + "}"


def _journal_params(j: dict) -> dict[str, Any]:
    """The journal row's parameters of the scalar write statements (_WRITE_ONE_PG, _WRITE_SMALL_PG)."""
    return {
        "j_id": j["id"],
        "j_tenant": j["tenant_id"],
        "j_kind": j["kind"],
        "j_key": j["key"],
        "j_memo": j["memo"],
        "j_pending": j["pending"],
        "j_expires": j["expires_at"],
        "j_effective": j["effective_at"],
        "j_meta": json.dumps(j["meta"]),
        "j_resolves": j["resolves_id"],
        "j_resolution": j["resolution"],
        "j_reverses": j["reverses_id"],
        "j_request": j["request_hash"],
        "now": j["created_at"],
    }


def _digest(payload: dict[str, Any]) -> bytes:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).digest()


class _Acct:
    """A locked account row and the balances it will have once this journal is applied."""

    __slots__ = (
        "id",
        "code",
        "unit",
        "normal",
        "no_overdraft",
        "closed",
        "dp",
        "cp",
        "dq",
        "cq",
        "count",
        "head",
        "ctid",
    )

    def __init__(self, row):
        # A row of _ACCOUNT_COLUMNS, in that order (a tuple from _pg_rows or a Row).
        (self.id, self.code, self.unit, self.normal, self.no_overdraft, self.closed) = row[:6]
        self.dp, self.cp, self.dq, self.cq, self.count = row[6:11]
        self.head = bytes(row[11])
        self.ctid = row[12] if len(row) > 12 else None

    def copy(self) -> _Acct:
        c = _Acct.__new__(_Acct)
        c.id, c.code, c.unit, c.normal, c.no_overdraft, c.closed = (
            self.id,
            self.code,
            self.unit,
            self.normal,
            self.no_overdraft,
            self.closed,
        )
        c.dp, c.cp, c.dq, c.cq, c.count, c.head, c.ctid = (
            self.dp,
            self.cp,
            self.dq,
            self.cq,
            self.count,
            self.head,
            self.ctid,
        )
        return c

    @classmethod
    def from_row(cls, r) -> _Acct:
        """From a Row of the accounts table (any column order)."""
        return cls(
            (r.id, r.code, r.unit, r.normal, r.no_overdraft, r.closed, r.debits_posted, r.credits_posted)
            + (r.debits_pending, r.credits_pending, r.entry_count, r.head_hash)
        )

    def sign(self, is_debit: bool) -> int:
        """+1 when this side increases the balance in the account's normal sign."""
        return 1 if (self.normal == "debit") == is_debit else -1

    @property
    def posted(self) -> int:
        return self.cp - self.dp if self.normal == "credit" else self.dp - self.cp

    @property
    def room(self) -> int:
        """What may still leave the account: posted balance less outgoing pending value."""
        return self.posted - (self.dq if self.normal == "credit" else self.cq)


class _Locked:
    """The account rows this connection's current transaction has locked (PostgreSQL), as they now stand.

    Within one transaction a locked row can change only through this transaction, so a later post over
    the same account need not lock and read it again: a transaction of many posts from one source (a
    review approving hours one by one) otherwise re-reads a row it has itself updated many times, and
    PostgreSQL walks every version of it on each read. Kept in the connection's info for one transaction
    (the SQLAlchemy root transaction it was made under); each account's state carries the innermost
    transaction or savepoint it was last read or written under and counts only while that one is
    active: a savepoint rolled back (which undoes its writes and releases the locks it took) or released
    makes what was recorded under it be read afresh. Copies are handed out, so a post that fails a check
    leaves the cache as it was. The write checks the row's version and entry count, so a row changed
    behind the ledger's back within the transaction fails the statement instead of being overwritten."""

    __slots__ = ("root", "accts")

    def __init__(self, root):
        self.root = root
        self.accts: dict[tuple[int, str], tuple[_Acct, Any]] = {}

    @staticmethod
    def of(conn: Connection) -> _Locked:
        root = conn.get_transaction()
        got = conn.info.get(_LOCKED)
        if got is None or got.root is not root:
            got = conn.info[_LOCKED] = _Locked(root)
        return got

    def holds(self, tenant: int, code: str) -> bool:
        got = self.accts.get((tenant, code))
        return got is not None and got[1].is_active

    def get(self, tenant: int, code: str) -> _Acct | None:
        got = self.accts.get((tenant, code))
        if got is None or not got[1].is_active:
            return None
        return got[0].copy()

    def put(self, conn: Connection, tenant: int, accts: Iterable[_Acct]) -> None:
        scope = conn.get_nested_transaction() or self.root
        for a in accts:
            self.accts[(tenant, a.code)] = (a.copy(), scope)

    def drop(self, tenant: int, codes: Iterable[str]) -> None:
        for code in codes:
            self.accts.pop((tenant, code), None)


_LOCKED = "ledger_locked_accounts"


class _Prepared:
    """A post's checked arguments: its transfers, journal row (without id and time) and request hash."""

    __slots__ = ("items", "row", "request")

    def __init__(self, items: list[Transfer], row: dict, request: bytes):
        self.items, self.row, self.request = items, row, request


class _LostRace(Exception):
    """A journal of a batch was not inserted: a concurrent writer took its key first."""


def _touched(rows: list) -> dict[int, _Acct]:
    return {a.id: a for d, c, *_ in rows for a in (d, c)}


def _journal_out(row: dict) -> Journal:
    return Journal(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        memo=row["memo"],
        pending=row["pending"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        effective_at=row["effective_at"],
        meta=row["meta"],
        resolves_id=row["resolves_id"],
        resolution=row["resolution"],
        reverses_id=row["reverses_id"],
        status="pending" if row["pending"] else "posted",
    )


class Ledger:
    """A double-entry book for one tenant, working inside a Session's or Connection's transaction."""

    def __init__(self, bind: Session | Connection, tenant: int = 0):
        if not isinstance(tenant, int) or isinstance(tenant, bool):
            raise TypeError("tenant must be an int")
        self._bind = bind
        self.tenant = tenant

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def _conn(self) -> Connection:
        return self._bind.connection() if isinstance(self._bind, Session) else self._bind

    @staticmethod
    def _locking(conn: Connection) -> bool:
        return conn.dialect.name == "postgresql"

    def _account_row(self, conn: Connection, code: str, lock: bool = False):
        q = select(accounts).where(accounts.c.tenant_id == self.tenant, accounts.c.code == code)
        if lock and self._locking(conn):
            q = q.with_for_update()
        return conn.execute(q).first()

    def _lock_accounts(self, conn: Connection, codes: Iterable[str]) -> dict[str, _Acct]:
        ordered = sorted(set(codes))
        found: dict[str, _Acct] = {}
        if self._locking(conn):
            for row in _pg_rows(conn, _LOCK_PG, {"tenant": self.tenant, "codes": ordered}):
                found[row[1]] = _Acct(row)
            self._refuse_missing(ordered, found)
            return found
        q = _ACCOUNTS_BY_CODE
        for i in range(0, len(ordered), _CHUNK):
            for row in conn.execute(q, {"tenant": self.tenant, "codes": ordered[i : i + _CHUNK]}):
                found[row.code] = _Acct.from_row(row)
        self._refuse_missing(ordered, found)
        return found

    @staticmethod
    def _refuse_missing(ordered: list[str], found: dict[str, _Acct]) -> None:
        missing = [c for c in ordered if c not in found]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise errors.UnknownAccount(f"no such account: {shown}; open it with open_account() first")

    def _journal_from_row(self, row, status: str | None = None) -> Journal:
        return Journal(
            id=row.id,
            kind=row.kind,
            key=row.key,
            memo=row.memo,
            pending=row.pending,
            created_at=row.created_at,
            expires_at=row.expires_at,
            effective_at=row.effective_at,
            meta=row.meta,
            resolves_id=row.resolves_id,
            resolution=row.resolution,
            reverses_id=row.reverses_id,
            status=status or ("pending" if row.pending else "posted"),
        )

    def _journal_row(self, conn: Connection, journal_id: int):
        row = conn.execute(
            select(journals).where(journals.c.tenant_id == self.tenant, journals.c.id == journal_id)
        ).first()
        if row is None:
            raise errors.UnknownJournal(f"no journal {journal_id} in this district's ledger")
        return row

    def _by_key(self, conn: Connection, key: str, request_hash: bytes) -> Journal | None:
        used = conn.execute(_KEY_USED, {"tenant": self.tenant, "key": key}).first()
        if used is None:
            return None
        row = self._journal_row(conn, used.id)
        if bytes(row.request_hash) != request_hash:
            raise errors.IdempotencyConflict(
                f"key {key!r} was already used for a different request (journal {row.id}); "
                "use a new key for a new request"
            )
        return self._journal_from_row(row, self._status(conn, row))

    def _status(self, conn: Connection, row) -> str:
        if not row.pending:
            return "posted"
        res = conn.execute(select(journals.c.resolution).where(journals.c.resolves_id == row.id)).first()
        if res is None:
            return "pending"
        return "posted" if res.resolution == "post" else "voided"

    @staticmethod
    def _check_key(key: str | None) -> None:
        if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY):
            raise errors.InvalidTransfer(
                f"an idempotency key must be a non-empty string of at most {MAX_KEY} characters"
            )

    # -- accounts ---------------------------------------------------------------------------
    @staticmethod
    def _check_account_settings(codes: Iterable[str], unit: str, normal: str) -> None:
        for code in codes:
            if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
                raise errors.InvalidTransfer(
                    f"an account code must be a non-empty string of at most {MAX_CODE} characters"
                )
        if not isinstance(unit, str) or not _UNIT.match(unit):
            raise errors.InvalidTransfer(f"unit {unit!r} is not valid: use 2-8 capital letters such as PT or CNY")
        if normal not in ("debit", "credit"):
            raise errors.InvalidTransfer(f"normal side must be 'debit' or 'credit', not {normal!r}")

    def _new_account(self, code: str, unit: str, normal: str, no_overdraft: bool, now: datetime) -> dict:
        return dict(
            tenant_id=self.tenant,
            code=code,
            unit=unit,
            normal=normal,
            no_overdraft=no_overdraft,
            closed=False,
            debits_posted=0,
            credits_posted=0,
            debits_pending=0,
            credits_pending=0,
            entry_count=0,
            head_hash=GENESIS,
            created_at=now,
        )

    @_atomic
    def open_account(self, code: str, unit: str = "PT", normal: str = "credit", no_overdraft: bool = False) -> Account:
        """Open an account, or return it if it is already open with the same settings."""
        self._check_account_settings([code], unit, normal)
        no_overdraft = bool(no_overdraft)
        conn = self._conn
        row = self._account_row(conn, code)
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(accounts).values(**self._new_account(code, unit, normal, no_overdraft, utcnow()))
                    )
            except IntegrityError:
                pass  # opened by a concurrent writer a moment ago: compare below
            row = self._account_row(conn, code)
        if (row.unit, row.normal, row.no_overdraft) != (unit, normal, no_overdraft):
            raise errors.AccountConflict(
                f"account {code} is already open as unit={row.unit}, normal={row.normal}, "
                f"no_overdraft={row.no_overdraft}; it cannot be reopened with other settings"
            )
        return self._account_from_row(row)

    @_atomic
    def open_accounts(
        self, codes: Iterable[str], unit: str = "PT", normal: str = "credit", no_overdraft: bool = False
    ) -> int:
        """Open many accounts with one set of settings (a member import's wallets); returns how many
        were new. Codes already open with the same settings are left alone; other settings raise
        AccountConflict and nothing is written."""
        codes = sorted(set(codes))
        if not codes:
            return 0
        self._check_account_settings(codes, unit, normal)
        conn = self._conn
        existing = {}
        for i in range(0, len(codes), _CHUNK):
            for row in conn.execute(_SETTINGS_BY_CODE, {"tenant": self.tenant, "codes": codes[i : i + _CHUNK]}):
                existing[row.code] = row
        for code, row in existing.items():
            if (row.unit, row.normal, row.no_overdraft) != (unit, normal, bool(no_overdraft)):
                raise errors.AccountConflict(f"account {code} is already open with other settings")
        now = utcnow()
        new = [self._new_account(c, unit, normal, bool(no_overdraft), now) for c in codes if c not in existing]
        if new:
            conn.execute(insert(accounts), new)
        return len(new)

    @staticmethod
    def _account_from_row(row) -> Account:
        return Account(row.id, row.code, row.unit, row.normal, row.no_overdraft, row.closed)

    def account(self, code: str) -> Account:
        row = self._account_row(self._conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        return self._account_from_row(row)

    @_atomic
    def close_account(self, code: str) -> Account:
        """Close an account whose posted and pending balances are all zero. Closing twice is harmless."""
        conn = self._conn
        acct = self._lock_accounts(conn, [code])[code]
        if acct.closed:
            return self._account_from_row(self._account_row(conn, code))
        if acct.posted != 0 or acct.dq or acct.cq:
            raise errors.AccountNotEmpty(
                f"account {code} still holds {acct.posted} {acct.unit} posted and "
                f"{acct.dq + acct.cq} pending; move or release it before closing"
            )
        conn.execute(update(accounts).where(accounts.c.id == acct.id).values(closed=True))
        _Locked.of(conn).drop(self.tenant, [code])
        return self._account_from_row(self._account_row(conn, code))

    def balance(self, code: str) -> Balance:
        row = self._account_row(self._conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        return self._balance_from_row(row)

    @staticmethod
    def _balance_from_row(row) -> Balance:
        if row.normal == "credit":
            posted = row.credits_posted - row.debits_posted
            pin, pout = row.credits_pending, row.debits_pending
        else:
            posted = row.debits_posted - row.credits_posted
            pin, pout = row.debits_pending, row.credits_pending
        return Balance(posted=posted, pending_in=pin, pending_out=pout, available=posted - pout)

    def balance_at(self, code: str, when: datetime) -> int:
        """The posted balance as it stood at `when` (0 before the account's first posting)."""
        conn = self._conn
        row = self._account_row(conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        got = conn.execute(
            select(entries.c.balance_after)
            .where(entries.c.account_id == row.id, entries.c.created_at <= _naive_utc(when))
            .order_by(entries.c.created_at.desc(), entries.c.seq.desc())
            .limit(1)
        ).first()
        return got.balance_after if got else 0

    def statement(
        self,
        code: str,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        after: int | None = None,
    ) -> Page:
        """The account's lines, newest first; `after` is the `next` cursor of the previous page."""
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise errors.InvalidTransfer("limit must be between 1 and 1000")
        conn = self._conn
        row = self._account_row(conn, code)
        if row is None:
            raise errors.UnknownAccount(f"no such account: {code}")
        q = (
            select(
                entries.c.seq,
                entries.c.journal_id,
                entries.c.transfer_id,
                entries.c.posted_delta,
                entries.c.pending_delta,
                entries.c.balance_after,
                entries.c.created_at,
                journals.c.kind,
                journals.c.memo,
                transfers.c.phase,
            )
            .join(journals, journals.c.id == entries.c.journal_id)
            .join(transfers, transfers.c.id == entries.c.transfer_id)
            .where(entries.c.account_id == row.id)
            .order_by(entries.c.seq.desc())
            .limit(limit + 1)
        )
        if after is not None:
            q = q.where(entries.c.seq < after)
        if since is not None:
            q = q.where(entries.c.created_at >= _naive_utc(since))
        if until is not None:
            q = q.where(entries.c.created_at < _naive_utc(until))
        rows = conn.execute(q).all()
        lines = [
            StatementLine(
                seq=r.seq,
                journal_id=r.journal_id,
                transfer_id=r.transfer_id,
                kind=r.kind,
                memo=r.memo,
                phase=r.phase,
                amount=r.posted_delta,
                pending_amount=r.pending_delta,
                balance_after=r.balance_after,
                time=r.created_at,
            )
            for r in rows[:limit]
        ]
        return Page(lines=lines, next=lines[-1].seq if len(rows) > limit else None)

    def trial_balance(self) -> dict[str, tuple[int, int]]:
        rows = self._conn.execute(
            select(accounts.c.unit, func.sum(accounts.c.debits_posted), func.sum(accounts.c.credits_posted))
            .where(accounts.c.tenant_id == self.tenant)
            .group_by(accounts.c.unit)
            .order_by(accounts.c.unit)
        )
        return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}

    def journal(self, journal_id: int) -> Journal:
        conn = self._conn
        row = self._journal_row(conn, journal_id)
        return self._journal_from_row(row, self._status(conn, row))

    def journal_transfers(self, journal_id: int) -> list[tuple[str, str, int, str]]:
        """(debit code, credit code, amount, phase) for each transfer of a journal, in order."""
        conn = self._conn
        self._journal_row(conn, journal_id)
        d, c = accounts.alias("d"), accounts.alias("c")
        rows = conn.execute(
            select(d.c.code, c.c.code, transfers.c.amount, transfers.c.phase)
            .join(d, d.c.id == transfers.c.debit_account_id)
            .join(c, c.c.id == transfers.c.credit_account_id)
            .where(transfers.c.journal_id == journal_id)
            .order_by(transfers.c.id)
        )
        return [tuple(r) for r in rows]

    # -- posting ----------------------------------------------------------------------------
    def post(
        self,
        transfers_in: Iterable[Transfer],
        kind: str,
        key: str | None = None,
        memo: str = "",
        pending: bool = False,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        meta: Any = None,
        journal_id: int | None = None,
    ) -> Journal:
        """Post a journal of transfers, all or none. With pending=True the value is reserved, not moved.

        `journal_id`: an id the caller took beforehand from the journals' sequence (PostgreSQL,
        NEXT_JOURNAL_ID_PG), for a journal of two or more transfers: records that name the journal can
        then be written before its accounts are locked, so the locks are held for less time. Should the
        key be found taken, the journal found keeps its own id (the caller compares)."""
        p = self._prepare(transfers_in, kind, key, memo, pending, expires_at, effective_at, meta)
        conn = self._conn
        if journal_id is not None and (len(p.items) < 2 or not self._locking(conn)):
            raise ValueError("a journal id reserved beforehand needs PostgreSQL and two transfers or more")
        if len(p.items) == 1 and self._locking(conn):
            t = p.items[0]
            if _alone(conn):
                # AUTOCOMMIT: the one statement is the whole transaction, one round trip with its commit.
                # Should a concurrent writer have committed to one of the accounts after the statement
                # began (it then writes nothing), the general path runs in a block of its own.
                conn.info.pop(_LOCKED, None)
                done = self._post_one_pg(conn, p, t)
                conn.info.pop(_LOCKED, None)
                if done is not None:
                    return done
                with _own_block(conn):
                    return self._post_locked(conn, p, key, journal_id)
            cache = _Locked.of(conn) if conn.in_transaction() else None
            if cache is None or not (cache.holds(self.tenant, t.debit) or cache.holds(self.tenant, t.credit)):
                if (done := self._post_one_pg(conn, p, t)) is not None:
                    return done
        elif len(p.items) == 1 and conn.dialect.name == "sqlite":
            return self._post_one_sqlite(conn, p, p.items[0])
        elif _alone(conn):
            with _own_block(conn):
                return self._post_locked(conn, p, key, journal_id)
        return self._post_locked(conn, p, key, journal_id)

    def _post_locked(self, conn: Connection, p: _Prepared, key: str | None, journal_id: int | None) -> Journal:
        """post()'s general path: lock the accounts and reserve the ids (one statement), check, then write."""
        codes = [c for t in p.items for c in (t.debit, t.credit)]
        try:
            accts, jids, tids = self._lock_and_reserve(conn, codes, 1, len(p.items))
            rows = self._rows(p, accts)
            before = self._apply(rows)
        except errors.LedgerError:
            # A retried request gets its original journal whatever the balances say now (the first
            # attempt may have spent them); only a new request is refused. The key is looked up only
            # here and when the insert finds it taken: the common path never pays for the lookup.
            if key is not None and (found := self._by_key(conn, key, p.request)) is not None:
                return found
            raise
        now = utcnow()
        jid = jids[0] if journal_id is None else journal_id
        p.row["id"], p.row["created_at"] = jid, now
        trows, erows = self._entries(rows, jid, tids, now, before)
        if not self._insert(conn, [p.row], trows, erows, _touched(rows)):
            return self._lost_race(conn, p.row, key, p.request)
        return _journal_out(p.row)

    def _post_one_pg(self, conn: Connection, p: _Prepared, t: Transfer) -> Journal | None:
        """A one-transfer post over two accounts this transaction has not locked yet: one statement
        (_POST_ONE_PG) locks, checks, chains and writes. A refused post is explained by the same checks
        post() makes, run on the accounts as the statement locked them."""
        row = p.row
        now = utcnow()
        got = _pg_rows(
            conn,
            _POST_ONE_PG,
            {
                "tenant": self.tenant,
                "d": t.debit,
                "c": t.credit,
                "amount": t.amount,
                "pending": row["pending"],
                "phase": "pending" if row["pending"] else "posted",
                "max_total": MAX_TOTAL,
                "now": now,
                "now_iso": now.isoformat(timespec="microseconds"),
                "kind": row["kind"],
                "key": row["key"],
                "memo": row["memo"],
                "expires": row["expires_at"],
                "effective": row["effective_at"],
                "meta": "null" if row["meta"] is None else json.dumps(row["meta"]),
                "request": p.request,
            },
        )
        cache = _Locked.of(conn)  # (of the transaction the statement ran in)
        if len(got) == 2 and got[0][13] is not None:
            # Written. The accounts as they now stand go into the transaction's cache (see _Locked).
            accts = []
            for r in got:
                a = _Acct.__new__(_Acct)
                a.id, a.code, a.unit, a.normal, a.no_overdraft, a.closed = r[:6]
                a.dp, a.cp, a.dq, a.cq, a.count = r[14:19]
                a.head, a.ctid = bytes(r[19]), r[12]
                accts.append(a)
            cache.put(conn, self.tenant, accts)
            row["id"], row["created_at"] = got[0][13], now
            return _journal_out(row)
        # Nothing written: a check refused the post, or the key was taken by a concurrent writer, or
        # a concurrent writer committed a change to one of the accounts after the statement began.
        found = {r[1]: _Acct(r[:13]) for r in got}
        cache.put(conn, self.tenant, found.values())
        if any(r[21] for r in got):
            return None  # the rows are locked and cached as they now stand: post() writes them
        try:
            self._refuse_missing(sorted((t.debit, t.credit)), found)
            self._apply(self._rows(p, found))
        except errors.LedgerError:
            # As post(): a retried request gets its original journal whatever the balances say now.
            if row["key"] is not None and (j := self._by_key(conn, row["key"], p.request)) is not None:
                return j
            raise
        if got[0][19] is None:  # the statement's checks refused what post()'s checks accept: never
            raise errors.LedgerError("the journal could not be written; retry the request")
        return self._lost_race(conn, row, row["key"], p.request)

    def _post_one_sqlite(self, conn: Connection, p: _Prepared, t: Transfer) -> Journal:
        """post() of one transfer on SQLite: the same steps and checks as the general path (the writer
        holds the database lock since BEGIN IMMEDIATE), on the DBAPI cursor."""
        key, row = p.row["key"], p.row
        try:
            found = {r[1]: _Acct(r) for r in _pg_rows(conn, _LOCK_ONE_SQLITE, (self.tenant, t.debit, t.credit))}
            self._refuse_missing(sorted((t.debit, t.credit)), found)
            rows = self._rows(p, found)
            before = self._apply(rows)
        except errors.LedgerError:
            if key is not None and (j := self._by_key(conn, key, p.request)) is not None:
                return j
            raise
        ((jmax, tmax),) = _pg_rows(conn, _MAX_IDS_SQLITE, ())
        now = utcnow()
        jid, tid = jmax + 1, tmax + 1
        row["id"], row["created_at"] = jid, now
        (tr,), erows = self._entries(rows, jid, [tid], now, before)
        when, boolean, as_json = _sqlite_binders(conn.dialect)
        stamp = when(now)
        got = _pg_rows(
            conn,
            _INSERT_JOURNAL_ONE_SQLITE,
            (
                jid,
                self.tenant,
                row["kind"],
                key,
                row["memo"],
                boolean(row["pending"]),
                when(row["expires_at"]),
                when(row["effective_at"]),
                as_json(row["meta"]),
                row["request_hash"],
                stamp,
            ),
        )
        if not got:
            return self._lost_race(conn, row, key, p.request)
        _pg_rows(
            conn,
            _INSERT_TRANSFER_ONE_SQLITE,
            (tid, jid, tr["debit_account_id"], tr["credit_account_id"], tr["unit"], tr["amount"], tr["phase"]),
        )
        _pg_rows(
            conn,
            _INSERT_ENTRY_SQLITE,
            [
                (e["account_id"], e["seq"], tid, jid, e["posted_delta"], e["pending_delta"], e["balance_after"], stamp)
                + (e["hash"],)
                for e in erows
            ],
            many=True,
        )
        _pg_rows(
            conn,
            _UPDATE_ACCOUNT_SQLITE,
            [(a.dp, a.cp, a.dq, a.cq, a.count, a.head, a.id) for a in _touched(rows).values()],
            many=True,
        )
        return _journal_out(row)

    @_atomic
    def post_many(self, journals_in: Iterable[JournalSpec]) -> list[Journal]:
        """Post many journals in one call (a bulk approval, a batch of scans): all or none for the
        whole batch. Each journal keeps its own idempotency key: a journal whose key was already used
        for the same request is not posted again (its original comes back in its place), a key used
        for another request raises IdempotencyConflict, and a key given twice in the batch for the
        same request is one journal. Journals are checked in order, each against the balances the
        ones before it leave. Returns one Journal per spec, in order."""
        specs = list(journals_in)
        prepared = []
        for n, s in enumerate(specs, 1):
            if not isinstance(s, JournalSpec):
                raise errors.InvalidTransfer(f"journal {n} is not a ledger.JournalSpec")
            try:
                prepared.append(
                    self._prepare(s.transfers, s.kind, s.key, s.memo, s.pending, s.expires_at, s.effective_at, s.meta)
                )
            except errors.LedgerError as e:
                raise type(e)(f"journal {n}: {e}") from None
        first_of: dict[str, int] = {}  # key -> index of the first spec that carries it
        for i, p in enumerate(prepared):
            k = p.row["key"]
            if k is None:
                continue
            if k not in first_of:
                first_of[k] = i
            elif prepared[first_of[k]].request != p.request:
                raise errors.IdempotencyConflict(
                    f"journal {i + 1}: key {k!r} is given twice in this batch for different requests "
                    f"(journals {first_of[k] + 1} and {i + 1}); use a new key for a new request"
                )
        if not prepared:
            return []
        conn = self._conn
        try:
            return self._post_many(conn, prepared, first_of)
        except _LostRace:
            # A concurrent request committed one of these keys after we looked: look again, once.
            return self._post_many(conn, prepared, first_of)

    def _post_many(self, conn: Connection, prepared: list[_Prepared], first_of: dict[str, int]) -> list[Journal]:
        codes = [c for p in prepared for t in p.items for c in (t.debit, t.credit)]
        n_new_max = len(prepared)
        accts, jids, tids = self._lock_and_reserve(conn, codes, n_new_max, sum(len(p.items) for p in prepared))
        # Keys are looked up once the accounts are locked: a concurrent writer of the same journals
        # has committed by now, and its rows are visible to this new statement.
        used = self._keys_used(conn, list(first_of))
        for k, (jid, request_hash) in used.items():
            if request_hash != prepared[first_of[k]].request:
                raise errors.IdempotencyConflict(
                    f"journal {first_of[k] + 1}: key {k!r} was already used for a different request "
                    f"(journal {jid}); use a new key for a new request"
                )
        now = utcnow()
        new_rows: list[dict] = []
        trows: list[dict] = []
        erows: list[dict] = []
        touched: dict[int, _Acct] = {}
        out: list[Journal | int | None] = []  # a new Journal, an old journal's id, or None (a repeat)
        ti = 0
        for i, p in enumerate(prepared):
            k = p.row["key"]
            if k is not None and k in used:
                out.append(used[k][0])
                continue
            if k is not None and first_of[k] != i:
                out.append(None)
                continue
            try:
                rows = self._rows(p, accts)
                before = self._apply(rows)
            except errors.LedgerError as e:
                raise type(e)(f"journal {i + 1}: {e}") from None
            jid = jids[len(new_rows)]
            p.row["id"], p.row["created_at"] = jid, now
            t_rows, e_rows = self._entries(rows, jid, tids[ti : ti + len(rows)], now, before)
            ti += len(rows)
            new_rows.append(p.row)
            trows += t_rows
            erows += e_rows
            touched.update(_touched(rows))
            out.append(_journal_out(p.row))
        if new_rows:
            if self._locking(conn):
                # All or none: a journal that could not be inserted (a key taken a moment ago) rolls
                # back the batch's rows to here, and the batch is looked at again.
                with conn.begin_nested() as sp:
                    if len(self._insert(conn, new_rows, trows, erows, touched)) != len(new_rows):
                        sp.rollback()
                        raise _LostRace
            else:
                self._insert(conn, new_rows, trows, erows, touched, checked=True)
        olds = {j.id: j for j in self._journals_by_id(conn, [x for x in out if isinstance(x, int)])}
        result: list[Journal] = []
        for i, x in enumerate(out):
            if isinstance(x, Journal):
                result.append(x)
            elif isinstance(x, int):
                result.append(olds[x])
            else:
                result.append(result[first_of[prepared[i].row["key"]]])
        return result

    def _prepare(
        self,
        transfers_in: Iterable[Transfer],
        kind: str,
        key: str | None,
        memo: str,
        pending: bool,
        expires_at: datetime | None,
        effective_at: datetime | None,
        meta: Any,
    ) -> _Prepared:
        """Check a post's arguments and build its journal row and request hash (no database)."""
        items = list(transfers_in)
        if not items:
            raise errors.InvalidTransfer("a journal needs at least one transfer")
        for i, t in enumerate(items, 1):
            if not isinstance(t, Transfer):
                raise errors.InvalidTransfer(f"transfer {i} is not a ledger.Transfer")
            if not isinstance(t.amount, int) or isinstance(t.amount, bool) or t.amount <= 0:
                raise errors.InvalidTransfer(f"transfer {i}: amount must be a positive whole number, not {t.amount!r}")
            if t.amount > MAX_AMOUNT:
                raise errors.InvalidTransfer(
                    f"transfer {i}: amount {t.amount} is larger than the most one transfer may move ({MAX_AMOUNT})"
                )
            if t.debit == t.credit:
                raise errors.InvalidTransfer(f"transfer {i}: debit and credit are the same account {t.debit}")
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            raise errors.InvalidTransfer("kind must be a non-empty string of at most 64 characters")
        self._check_key(key)
        if expires_at is not None and not pending:
            raise errors.InvalidTransfer("expires_at applies only to a pending journal")
        expires_at, effective_at = _naive_utc(expires_at), _naive_utc(effective_at)
        memo = memo or ""
        try:
            if meta is not None:
                json.dumps(meta)
        except (TypeError, ValueError):
            raise errors.InvalidTransfer(
                "meta must be JSON data (dicts, lists, strings, numbers, booleans, null)"
            ) from None
        request = _digest(
            {
                "op": "post",
                "kind": kind,
                "memo": memo,
                "pending": bool(pending),
                "expires_at": expires_at,
                "effective_at": effective_at,
                "meta": meta,
                "t": [(t.debit, t.credit, t.amount) for t in items],
            }
        )
        row = dict(
            tenant_id=self.tenant,
            kind=kind,
            key=key,
            memo=memo,
            pending=bool(pending),
            expires_at=expires_at,
            effective_at=effective_at,
            meta=meta,
            resolves_id=None,
            resolution=None,
            reverses_id=None,
            request_hash=request,
        )
        return _Prepared(items, row, request)

    @staticmethod
    def _rows(p: _Prepared, accts: dict[str, _Acct]) -> list[tuple]:
        phase = "pending" if p.row["pending"] else "posted"
        rows = []
        for i, t in enumerate(p.items, 1):
            d, c = accts[t.debit], accts[t.credit]
            for a in (d, c):
                if a.closed:
                    raise errors.AccountClosed(f"account {a.code} is closed and takes no new postings")
            if d.unit != c.unit:
                raise errors.UnitMismatch(
                    f"transfer {i}: {d.code} holds {d.unit} but {c.code} holds {c.unit}; both sides need one unit"
                )
            rows.append((d, c, t.amount, phase, None, t.amount))
        return rows

    @_atomic
    def post_pending(self, journal_id: int, amount: int | None = None, key: str | None = None) -> Journal:
        """Post a pending journal. `amount` (one-transfer journals only) posts part and releases the rest."""
        return self._resolve(journal_id, "post", amount, key)

    @_atomic
    def void_pending(self, journal_id: int, key: str | None = None) -> Journal:
        """Release a pending journal's reservation; nothing moves."""
        return self._resolve(journal_id, "void", None, key)

    def _resolve(
        self,
        journal_id: int,
        how: str,
        amount: int | None,
        key: str | None,
        now: datetime | None = None,
        expiring: bool = False,
    ) -> Journal:
        self._check_key(key)
        conn = self._conn
        request = _digest({"op": how, "journal": journal_id, "amount": amount})
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        orig = self._journal_row(conn, journal_id)
        if not orig.pending:
            raise errors.NotPending(f"journal {journal_id} was never pending; reverse it instead")
        done = conn.execute(
            select(journals.c.id, journals.c.resolution).where(journals.c.resolves_id == journal_id)
        ).first()
        if done is not None:
            state = "posted" if done.resolution == "post" else "voided"
            raise errors.NotPending(f"journal {journal_id} is no longer pending: it was {state} by journal {done.id}")
        now = now or utcnow()
        if how == "post" and orig.expires_at is not None and orig.expires_at <= now:
            raise errors.PendingExpired(
                f"journal {journal_id} expired at {orig.expires_at:%Y-%m-%d %H:%M:%S} UTC and can no longer be posted"
            )
        pend = conn.execute(
            select(transfers).where(transfers.c.journal_id == journal_id).order_by(transfers.c.id)
        ).all()
        if amount is not None:
            if len(pend) != 1:
                raise errors.InvalidTransfer(
                    f"journal {journal_id} has {len(pend)} transfers; a partial amount needs a one-transfer journal"
                )
            if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= pend[0].amount:
                raise errors.InvalidTransfer(
                    f"amount must be a whole number from 1 to the pending {pend[0].amount}, not {amount!r}"
                )
        ids = {r.debit_account_id for r in pend} | {r.credit_account_id for r in pend}
        codes = conn.execute(select(accounts.c.code).where(accounts.c.id.in_(ids))).scalars().all()
        accts = self._lock_accounts(conn, codes)
        if (found := self._after_lock(conn, key, request, resolves_id=journal_id)) is not None:
            return found
        by_id = {a.id: a for a in accts.values()}
        rows = []
        for r in pend:
            posted = amount if amount is not None else r.amount
            rows.append(
                (
                    by_id[r.debit_account_id],
                    by_id[r.credit_account_id],
                    posted if how == "post" else r.amount,
                    how,
                    r.id,
                    r.amount,
                )
            )
        journal_row = dict(
            tenant_id=self.tenant,
            kind=orig.kind,
            key=key,
            memo=orig.memo if not expiring else f"expired: {orig.memo}".rstrip(": "),
            pending=False,
            expires_at=None,
            effective_at=None,
            meta=None,
            resolves_id=journal_id,
            resolution=how,
            reverses_id=None,
            request_hash=request,
        )
        return self._write(conn, journal_row, rows, key=key, request=request, now=now)

    # -- resolving many pending journals at once ----------------------------------------------
    def post_pending_many(self, items: Iterable[tuple[int, int | None, str | None]]) -> list[Journal]:
        """Post many pending journals in one call: (journal id, amount or None for all of it, key) each,
        as post_pending would. All or none; see resolve_many."""
        return self.resolve_many(Resolution(j, "post", amount, key) for j, amount, key in items)

    def void_pending_many(self, items: Iterable[tuple[int, str | None]]) -> list[Journal]:
        """Release many pending journals in one call: (journal id, key) each, as void_pending would.
        All or none; see resolve_many."""
        return self.resolve_many(Resolution(j, "void", None, key) for j, key in items)

    @_atomic
    def resolve_many(self, items_in: Iterable[Resolution]) -> list[Journal]:
        """Post or void many pending journals in one call (a review approving thousands of hours): all
        or none for the whole batch, with a handful of statements in all instead of a dozen per journal.

        Each item is what post_pending / void_pending would do alone, with its own idempotency key: an
        item whose key was already used for the same request is not resolved again (its original comes
        back in its place); a key used for another request raises IdempotencyConflict; a key given twice
        in the batch for the same request is one resolution. A journal not pending (never, or resolved
        already), expired (for a post), unknown, or named twice in the batch refuses the whole batch,
        and the error names the item and the journal (`resolution 7: journal 123 …`). Returns one
        Journal per item, in order."""
        items = list(items_in)
        requests: list[bytes] = []
        for n, r in enumerate(items, 1):
            if not isinstance(r, Resolution):
                raise errors.InvalidTransfer(f"resolution {n} is not a ledger.Resolution")
            try:
                self._check_resolution(r)
            except errors.LedgerError as e:
                raise type(e)(f"resolution {n}: {e}") from None
            requests.append(_digest({"op": r.how, "journal": r.journal_id, "amount": r.amount}))
        first_of: dict[str, int] = {}  # key -> index of the first item that carries it
        named: dict[int, int] = {}  # journal id -> index of the item that resolves it
        # Refusals found here are raised at their item's turn, so the first bad item is the one named.
        refusals: dict[int, errors.LedgerError] = {}
        for i, r in enumerate(items):
            if r.key is not None:
                if r.key not in first_of:
                    first_of[r.key] = i
                elif requests[first_of[r.key]] != requests[i]:
                    refusals[i] = errors.IdempotencyConflict(
                        f"resolution {i + 1}: key {r.key!r} is given twice in this batch for different requests "
                        f"(resolutions {first_of[r.key] + 1} and {i + 1}); use a new key for a new request"
                    )
                    continue
                else:
                    continue  # the same request twice: one resolution
            if r.journal_id in named:
                refusals[i] = errors.NotPending(
                    f"resolution {i + 1}: journal {r.journal_id} is resolved twice in this batch "
                    f"(resolutions {named[r.journal_id] + 1} and {i + 1}); a pending journal is resolved once"
                )
                continue
            named[r.journal_id] = i
        if not items:
            return []
        conn = self._conn
        try:
            return self._resolve_many(conn, items, requests, first_of, refusals)
        except _LostRace:
            # A concurrent request committed one of these keys after we looked: look again, once.
            try:
                return self._resolve_many(conn, items, requests, first_of, refusals)
            except _LostRace:
                raise errors.LedgerError("the batch could not be written; retry the request") from None

    @staticmethod
    def _check_resolution(r: Resolution) -> None:
        if not isinstance(r.journal_id, int) or isinstance(r.journal_id, bool):
            raise errors.InvalidTransfer(f"a journal id must be a whole number, not {r.journal_id!r}")
        if r.how not in ("post", "void"):
            raise errors.InvalidTransfer(f"a resolution is 'post' or 'void', not {r.how!r}")
        if r.how == "void" and r.amount is not None:
            raise errors.InvalidTransfer(f"journal {r.journal_id}: a void releases the whole journal; give no amount")
        Ledger._check_key(r.key)

    def _resolve_many(
        self,
        conn: Connection,
        items: list[Resolution],
        requests: list[bytes],
        first_of: dict[str, int],
        refusals: dict[int, errors.LedgerError],
    ) -> list[Journal]:
        # Ids no journal can have (out of BIGINT's range) are simply not found: UnknownJournal below.
        ids = sorted({r.journal_id for r in items if 0 < r.journal_id < 2**63})
        originals, done, used = self._resolution_state(conn, ids, list(first_of), with_originals=True)
        repeat: dict[int, int] = {}  # item index -> id of the journal that already answers it
        refusals = {**refusals, **self._repeats(items, requests, first_of, used, repeat)}
        todo = [  # indexes of the items to write, in order
            i
            for i, r in enumerate(items)
            if not (r.key is not None and first_of[r.key] != i) and i not in repeat and i not in refusals
        ]
        pend = self._pending_transfers(conn, [items[i].journal_id for i in todo if items[i].journal_id in originals])
        now = utcnow()
        codes: set[str] = set()
        waiting = set(todo)
        for i, r in enumerate(items):  # the checks of _resolve, in its order, item by item
            if i in refusals:
                raise refusals[i]
            if i not in waiting:
                continue
            n, jid = i + 1, r.journal_id
            orig = originals.get(jid)
            if orig is None:
                raise errors.UnknownJournal(f"resolution {n}: no journal {jid} in this district's ledger")
            if not orig.pending:
                raise errors.NotPending(f"resolution {n}: journal {jid} was never pending; reverse it instead")
            self._refuse_resolved(n, jid, done)
            if r.how == "post" and orig.expires_at is not None and orig.expires_at <= now:
                raise errors.PendingExpired(
                    f"resolution {n}: journal {jid} expired at {orig.expires_at:%Y-%m-%d %H:%M:%S} UTC "
                    "and can no longer be posted"
                )
            mine = pend.get(jid, [])
            if r.amount is not None:
                if len(mine) != 1:
                    raise errors.InvalidTransfer(
                        f"resolution {n}: journal {jid} has {len(mine)} transfers; "
                        "a partial amount needs a one-transfer journal"
                    )
                a = r.amount
                if not isinstance(a, int) or isinstance(a, bool) or not 0 < a <= mine[0].amount:
                    raise errors.InvalidTransfer(
                        f"resolution {n}: journal {jid}: amount must be a whole number from 1 to "
                        f"the pending {mine[0].amount}, not {a!r}"
                    )
            codes.update(c for t in mine for c in (t.debit_code, t.credit_code))
        new_rows: list[dict] = []
        trows: list[dict] = []
        erows: list[dict] = []
        made: dict[int, Journal] = {}
        if todo:
            n_transfers = sum(len(pend[items[i].journal_id]) for i in todo)
            accts, jids, tids = self._lock_and_reserve(conn, codes, len(todo), n_transfers)
            if self._locking(conn):
                # Look again under the locks: a concurrent writer of one of these resolutions (which
                # locks the same accounts) has committed by now, and a new statement sees it.
                _, done, used = self._resolution_state(
                    conn, [items[i].journal_id for i in todo], [k for k, i in first_of.items() if i in waiting]
                )
                if late := self._repeats(items, requests, first_of, used, repeat):
                    raise late[min(late)]
                todo = [i for i in todo if i not in repeat]
                for i in todo:
                    self._refuse_resolved(i + 1, items[i].journal_id, done)
            by_id = {a.id: a for a in accts.values()}
            touched: dict[int, _Acct] = {}
            now = utcnow()
            ti = 0
            for i in todo:
                r = items[i]
                orig = originals[r.journal_id]
                rows = [
                    (
                        by_id[t.debit_account_id],
                        by_id[t.credit_account_id],
                        (r.amount if r.amount is not None else t.amount) if r.how == "post" else t.amount,
                        r.how,
                        t.id,
                        t.amount,
                    )
                    for t in pend[r.journal_id]
                ]
                try:
                    before = self._apply(rows)
                except errors.LedgerError as e:
                    raise type(e)(f"resolution {i + 1}: {e}") from None
                jid = jids[len(new_rows)]
                row = dict(
                    id=jid,
                    tenant_id=self.tenant,
                    kind=orig.kind,
                    key=r.key,
                    memo=orig.memo,
                    pending=False,
                    expires_at=None,
                    effective_at=None,
                    meta=None,
                    resolves_id=r.journal_id,
                    resolution=r.how,
                    reverses_id=None,
                    request_hash=requests[i],
                    created_at=now,
                )
                t_rows, e_rows = self._entries(rows, jid, tids[ti : ti + len(rows)], now, before)
                ti += len(rows)
                new_rows.append(row)
                trows += t_rows
                erows += e_rows
                touched.update(_touched(rows))
                made[i] = _journal_out(row)
            if new_rows:
                if self._locking(conn):
                    # All or none: a journal that could not be inserted (a key taken a moment ago) rolls
                    # back the batch's rows to here, and the batch is looked at again.
                    with conn.begin_nested() as sp:
                        if len(self._insert(conn, new_rows, trows, erows, touched)) != len(new_rows):
                            sp.rollback()
                            raise _LostRace
                else:
                    self._insert(conn, new_rows, trows, erows, touched, checked=True)
        olds = {j.id: j for j in self._journals_by_id(conn, sorted(set(repeat.values())))}
        result: list[Journal] = []
        for i, r in enumerate(items):
            if i in made:
                result.append(made[i])
            elif i in repeat:
                result.append(olds[repeat[i]])
            else:  # the same key and request as an earlier item
                result.append(result[first_of[r.key]])  # type: ignore[index]
        return result

    @staticmethod
    def _repeats(
        items: list[Resolution], requests: list[bytes], first_of: dict[str, int], used: dict, repeat: dict[int, int]
    ) -> dict[int, errors.LedgerError]:
        """Items whose key is taken: the same request is a repeat (answered by that journal, added to
        `repeat`), another request is refused (returned by item index)."""
        refused: dict[int, errors.LedgerError] = {}
        for k, row in used.items():
            i = first_of[k]
            if bytes(row.request_hash) != requests[i]:
                refused[i] = errors.IdempotencyConflict(
                    f"resolution {i + 1}: key {k!r} was already used for a different request (journal {row.id}); "
                    "use a new key for a new request"
                )
            else:
                repeat[i] = row.id
        return refused

    @staticmethod
    def _refuse_resolved(n: int, journal_id: int, done: dict) -> None:
        d = done.get(journal_id)
        if d is not None:
            state = "posted" if d.resolution == "post" else "voided"
            raise errors.NotPending(
                f"resolution {n}: journal {journal_id} is no longer pending: it was {state} by journal {d.id}"
            )

    def _resolution_state(
        self, conn: Connection, ids: list[int], keys: list[str], with_originals: bool = False
    ) -> tuple[dict[int, Any], dict[int, Any], dict[str, Any]]:
        """The journals `ids` (with_originals), the journals resolving them, and the journals holding
        `keys`, each by what it was looked up by."""
        idset, keyset = set(ids), set(keys)
        got: list = []
        if self._locking(conn):
            sql = _RESOLVE_READ_PG if with_originals else _RESOLVE_RECHECK_PG
            got = list(conn.exec_driver_sql(sql, {"tenant": self.tenant, "ids": ids, "keys": keys}))
        else:
            lookups: list[tuple[Any, list]] = [(journals.c.resolves_id, ids), (journals.c.key, keys)]
            if with_originals:
                lookups.append((journals.c.id, ids))
            for column, values in lookups:
                for i in range(0, len(values), _CHUNK):
                    got += conn.execute(
                        select(journals).where(journals.c.tenant_id == self.tenant, column.in_(values[i : i + _CHUNK]))
                    )
        originals = {r.id: r for r in got if r.id in idset} if with_originals else {}
        done = {r.resolves_id: r for r in got if r.resolves_id in idset}
        used = {r.key: r for r in got if r.key in keyset}
        return originals, done, used

    def _pending_transfers(self, conn: Connection, ids: list[int]) -> dict[int, list]:
        """The transfers of journals `ids`, by journal, in order, with both accounts' codes."""
        out: dict[int, list] = {}
        if not ids:
            return out
        if self._locking(conn):
            got = conn.exec_driver_sql(_PENDING_TRANSFERS_PG, {"ids": ids})
            for r in got:
                out.setdefault(r.journal_id, []).append(r)
            return out
        for i in range(0, len(ids), _CHUNK):
            for r in conn.execute(_PENDING_TRANSFERS, {"ids": ids[i : i + _CHUNK]}):
                out.setdefault(r.journal_id, []).append(r)
        for rows in out.values():
            rows.sort(key=lambda r: r.id)
        return out

    @_atomic
    def reverse(self, journal_id: int, key: str | None = None, memo: str = "") -> Journal:
        """Post a new journal that undoes a posted one, every transfer swapped. Once per journal."""
        self._check_key(key)
        conn = self._conn
        request = _digest({"op": "reverse", "journal": journal_id, "memo": memo or ""})
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        orig = self._journal_row(conn, journal_id)
        if orig.pending:
            raise errors.NotPending(
                f"journal {journal_id} is a pending journal; void it (or reverse the journal that posted it)"
            )
        if orig.resolution == "void":
            raise errors.InvalidTransfer(f"journal {journal_id} voided a reservation and moved nothing to reverse")
        done = conn.execute(select(journals.c.id).where(journals.c.reverses_id == journal_id)).first()
        if done is not None:
            raise errors.AlreadyReversed(f"journal {journal_id} was already reversed by journal {done.id}")
        moved = conn.execute(
            select(transfers).where(transfers.c.journal_id == journal_id).order_by(transfers.c.id)
        ).all()
        ids = {r.debit_account_id for r in moved} | {r.credit_account_id for r in moved}
        codes = conn.execute(select(accounts.c.code).where(accounts.c.id.in_(ids))).scalars().all()
        accts = self._lock_accounts(conn, codes)
        if (found := self._after_lock(conn, key, request, reverses_id=journal_id)) is not None:
            return found
        by_id = {a.id: a for a in accts.values()}
        for a in by_id.values():
            if a.closed:
                raise errors.AccountClosed(f"account {a.code} is closed; journal {journal_id} cannot be reversed")
        rows = [
            (by_id[r.credit_account_id], by_id[r.debit_account_id], r.amount, "posted", None, r.amount) for r in moved
        ]
        journal_row = dict(
            tenant_id=self.tenant,
            kind=orig.kind,
            key=key,
            memo=memo or f"reversal of journal {journal_id}",
            pending=False,
            expires_at=None,
            effective_at=None,
            meta=None,
            resolves_id=None,
            resolution=None,
            reverses_id=journal_id,
            request_hash=request,
        )
        return self._write(conn, journal_row, rows, key=key, request=request)

    @_atomic
    def expire_pending(self, now: datetime | None = None) -> int:
        """Void every pending journal whose expires_at has passed; returns how many were voided."""
        now = _naive_utc(now) or utcnow()
        later = journals.alias("later")
        due = (
            self._conn.execute(
                select(journals.c.id)
                .where(
                    journals.c.tenant_id == self.tenant,
                    journals.c.expires_at <= now,
                    journals.c.pending.is_(True),
                    ~exists().where(later.c.resolves_id == journals.c.id),
                )
                .order_by(journals.c.id)
            )
            .scalars()
            .all()
        )
        for jid in due:
            self._resolve(jid, "void", None, None, now=now, expiring=True)
        return len(due)

    def _after_lock(
        self,
        conn: Connection,
        key: str | None,
        request: bytes,
        resolves_id: int | None = None,
        reverses_id: int | None = None,
    ) -> Journal | None:
        """Look again once the accounts are locked: while we waited, a concurrent writer may have
        committed the same key, resolution or reversal (on PostgreSQL a new READ COMMITTED statement
        sees it). Without this, the loser would be judged against balances the winner already
        changed and could be told "insufficient balance" instead of getting the original journal."""
        if not self._locking(conn):
            return None  # SQLite runs writers one at a time: nothing can have changed
        if key is not None and (found := self._by_key(conn, key, request)) is not None:
            return found
        if resolves_id is not None:
            done = conn.execute(
                select(journals.c.id, journals.c.resolution).where(journals.c.resolves_id == resolves_id)
            ).first()
            if done is not None:
                state = "posted" if done.resolution == "post" else "voided"
                raise errors.NotPending(
                    f"journal {resolves_id} is no longer pending: it was {state} by journal {done.id}"
                )
        if reverses_id is not None:
            done = conn.execute(select(journals.c.id).where(journals.c.reverses_id == reverses_id)).first()
            if done is not None:
                raise errors.AlreadyReversed(f"journal {reverses_id} was already reversed by journal {done.id}")
        return None

    # -- the one place rows are written -----------------------------------------------------
    def _write(
        self,
        conn: Connection,
        journal_row: dict,
        rows: list,
        *,
        key: str | None,
        request: bytes,
        now: datetime | None = None,
    ) -> Journal:
        """Check and append one journal whose accounts are locked (resolutions and reversals)."""
        before = self._apply(rows)
        now = now or utcnow()
        jids, tids = self._reserve(conn, 1, len(rows))
        journal_row["id"], journal_row["created_at"] = jids[0], now
        trows, erows = self._entries(rows, jids[0], tids, now, before)
        if not self._insert(conn, [journal_row], trows, erows, _touched(rows)):
            return self._lost_race(conn, journal_row, key, request)
        return _journal_out(journal_row)

    @staticmethod
    def _apply(rows: list) -> dict[int, int]:
        """Apply a journal's rows to the in-memory account copies and refuse an overdraft before anything
        is written. Returns each touched account's posted balance before the journal.

        rows: (debit _Acct, credit _Acct, amount, phase, pending_transfer_id, pending_amount)
        """
        touched = _touched(rows)
        room_before = {i: a.room for i, a in touched.items()}
        posted_before = {i: a.posted for i, a in touched.items()}
        for d, c, amount, phase, _pid, pamount in rows:
            if phase == "posted":
                d.dp += amount
                c.cp += amount
            elif phase == "pending":
                d.dq += amount
                c.cq += amount
            elif phase == "post":
                d.dq -= pamount
                c.cq -= pamount
                d.dp += amount
                c.cp += amount
            else:  # void
                d.dq -= pamount
                c.cq -= pamount
        for a in touched.values():
            if max(a.dp, a.cp, a.dq, a.cq) > MAX_TOTAL:
                raise errors.InvalidTransfer(f"account {a.code} would exceed the largest total the ledger keeps")
            if a.no_overdraft and a.room < 0:
                raise errors.InsufficientBalance(
                    f"account {a.code} has {room_before[a.id]} {a.unit} available but this needs "
                    f"{room_before[a.id] - a.room}; it would be overdrawn by {-a.room}"
                )
        return posted_before

    @staticmethod
    def _entries(
        rows: list, journal_id: int, transfer_ids: list[int], now: datetime, posted_before: dict[int, int]
    ) -> tuple[list[dict], list[dict]]:
        """The journal's transfer rows and the entries on both accounts of each, hash-chained: walks the
        transfers from the pre-journal balances to get each balance_after."""
        posted_now = dict(posted_before)
        transfer_rows, entry_rows = [], []
        for tid, (d, c, amount, phase, pid, pamount) in zip(transfer_ids, rows, strict=True):
            tr = dict(
                id=tid,
                journal_id=journal_id,
                debit_account_id=d.id,
                credit_account_id=c.id,
                unit=d.unit,
                amount=amount,
                phase=phase,
                pending_transfer_id=pid,
            )
            transfer_rows.append(tr)
            for acct, is_debit in ((d, True), (c, False)):
                s = acct.sign(is_debit)
                posted_delta = s * amount if phase in ("posted", "post") else 0
                pending_delta = s * amount if phase == "pending" else (-s * pamount if phase in ("post", "void") else 0)
                posted_now[acct.id] += posted_delta
                acct.count += 1
                e = dict(
                    account_id=acct.id,
                    seq=acct.count,
                    transfer_id=tid,
                    journal_id=journal_id,
                    posted_delta=posted_delta,
                    pending_delta=pending_delta,
                    balance_after=posted_now[acct.id],
                    created_at=now,
                )
                acct.head = e["hash"] = entry_hash(acct.head, e, tr)
                entry_rows.append(e)
        return transfer_rows, entry_rows

    def _insert(
        self,
        conn: Connection,
        journal_rows: list[dict],
        transfer_rows: list[dict],
        entry_rows: list[dict],
        touched: dict[int, _Acct],
        checked: bool = False,
    ) -> list[int]:
        """Append journals (ids already reserved), their transfers and entries, and write the touched
        accounts' new totals and chain heads. Returns the ids of the journals inserted: a journal whose
        key, resolution or reversal a concurrent writer took first is not inserted, and then nothing
        else is written either. `checked`: the keys were looked up under the write lock (SQLite)."""
        accts = list(touched.values())
        if self._locking(conn):
            # PostgreSQL: one statement, one round trip. Every row goes through the same constraints,
            # foreign keys and triggers as a plain INSERT / UPDATE would.
            j, t, e = journal_rows, transfer_rows, entry_rows
            if len(j) == 1 and len(t) == 1:
                return self._insert_one_pg(conn, j[0], t[0], e, accts)
            # (The accounts a batch wrote are read afresh by a later post in the transaction.)
            _Locked.of(conn).drop(self.tenant, [a.code for a in accts])
            if len(j) == 1 and len(e) == 2 * len(t) and 2 <= len(t) <= _SMALL_TRANSFERS:
                return self._insert_small_pg(conn, j[0], t, e, accts)
            got = _pg_rows(
                conn,
                _WRITE_PG,
                {
                    "j_id": _arr_int(r["id"] for r in j),
                    "j_tenant": _arr_int(r["tenant_id"] for r in j),
                    "j_kind": _arr_text(r["kind"] for r in j),
                    "j_key": _arr_text(r["key"] for r in j),
                    "j_memo": _arr_text(r["memo"] for r in j),
                    "j_pending": _arr_bool(r["pending"] for r in j),
                    "j_expires": _arr_time(r["expires_at"] for r in j),
                    "j_effective": _arr_time(r["effective_at"] for r in j),
                    "j_meta": _arr_text(json.dumps(r["meta"]) for r in j),
                    "j_resolves": _arr_int(r["resolves_id"] for r in j),
                    "j_resolution": _arr_text(r["resolution"] for r in j),
                    "j_reverses": _arr_int(r["reverses_id"] for r in j),
                    "j_request": _arr_bytes(r["request_hash"] for r in j),
                    "now": j[0]["created_at"],
                    "nj": len(j),
                    "t_id": _arr_int(r["id"] for r in t),
                    "t_journal": _arr_int(r["journal_id"] for r in t),
                    "t_debit": _arr_int(r["debit_account_id"] for r in t),
                    "t_credit": _arr_int(r["credit_account_id"] for r in t),
                    "t_unit": _arr_text(r["unit"] for r in t),
                    "t_amount": _arr_int(r["amount"] for r in t),
                    "t_phase": _arr_text(r["phase"] for r in t),
                    "t_pending": _arr_int(r["pending_transfer_id"] for r in t),
                    "e_account": _arr_int(r["account_id"] for r in e),
                    "e_seq": _arr_int(r["seq"] for r in e),
                    "e_transfer": _arr_int(r["transfer_id"] for r in e),
                    "e_journal": _arr_int(r["journal_id"] for r in e),
                    "e_posted": _arr_int(r["posted_delta"] for r in e),
                    "e_pending": _arr_int(r["pending_delta"] for r in e),
                    "e_balance": _arr_int(r["balance_after"] for r in e),
                    "e_hash": _arr_bytes(r["hash"] for r in e),
                    "a_id": _arr_int(a.id for a in accts),
                    "a_dp": _arr_int(a.dp for a in accts),
                    "a_cp": _arr_int(a.cp for a in accts),
                    "a_dq": _arr_int(a.dq for a in accts),
                    "a_cq": _arr_int(a.cq for a in accts),
                    "a_n": _arr_int(a.count for a in accts),
                    "a_h": _arr_bytes(a.head for a in accts),
                },
            )
            return [r[0] for r in got]
        # SQLite: one writer at a time (the write lock is held since BEGIN IMMEDIATE).
        if checked:
            conn.execute(_INSERT_JOURNAL, journal_rows)
            inserted = [r["id"] for r in journal_rows]
        else:
            (row,) = journal_rows
            got_id = conn.execute(_INSERT_JOURNAL_SQLITE, row).scalar_one_or_none()
            if got_id is None:
                return []
            inserted = [got_id]
        conn.execute(_INSERT_TRANSFERS, transfer_rows)
        conn.execute(_INSERT_ENTRIES, entry_rows)
        conn.execute(
            _UPDATE_ACCOUNT, [dict(a_id=a.id, dp=a.dp, cp=a.cp, dq=a.dq, cq=a.cq, n=a.count, h=a.head) for a in accts]
        )
        return inserted

    def _insert_small_pg(
        self, conn: Connection, j: dict, transfer_rows: list[dict], entry_rows: list[dict], accts: list[_Acct]
    ) -> list[int]:
        """_insert for one journal of 2 to 4 transfers on PostgreSQL (_WRITE_SMALL_PG)."""
        t, e = transfer_rows, entry_rows
        params = _journal_params(j)
        params.update(
            t_id=_arr_int(r["id"] for r in t),
            t_debit=_arr_int(r["debit_account_id"] for r in t),
            t_credit=_arr_int(r["credit_account_id"] for r in t),
            t_unit=_arr_text(r["unit"] for r in t),
            t_amount=_arr_int(r["amount"] for r in t),
            t_phase=_arr_text(r["phase"] for r in t),
            t_pending=_arr_int(r["pending_transfer_id"] for r in t),
            e_account=_arr_int(r["account_id"] for r in e),
            e_seq=_arr_int(r["seq"] for r in e),
            e_transfer=_arr_int(r["transfer_id"] for r in e),
            e_posted=_arr_int(r["posted_delta"] for r in e),
            e_pending=_arr_int(r["pending_delta"] for r in e),
            e_balance=_arr_int(r["balance_after"] for r in e),
            e_hash=_arr_bytes(r["hash"] for r in e),
            a_id=_arr_int(a.id for a in accts),
            a_dp=_arr_int(a.dp for a in accts),
            a_cp=_arr_int(a.cp for a in accts),
            a_dq=_arr_int(a.dq for a in accts),
            a_cq=_arr_int(a.cq for a in accts),
            a_n=_arr_int(a.count for a in accts),
            a_h=_arr_bytes(a.head for a in accts),
        )
        got = _pg_rows(conn, _WRITE_SMALL_PG, params)
        return [r[0] for r in got]

    def _insert_one_pg(self, conn: Connection, j: dict, t: dict, e: list[dict], accts: list[_Acct]) -> list[int]:
        (e1, e2), (a1, a2) = e, accts
        got = _pg_rows(
            conn,
            _WRITE_ONE_PG,
            {
                **_journal_params(j),
                "t_id": t["id"],
                "t_debit": t["debit_account_id"],
                "t_credit": t["credit_account_id"],
                "t_unit": t["unit"],
                "t_amount": t["amount"],
                "t_phase": t["phase"],
                "t_pending": t["pending_transfer_id"],
                "e1_a": e1["account_id"],
                "e1_seq": e1["seq"],
                "e1_pd": e1["posted_delta"],
                "e1_qd": e1["pending_delta"],
                "e1_bal": e1["balance_after"],
                "e1_h": e1["hash"],
                "e2_a": e2["account_id"],
                "e2_seq": e2["seq"],
                "e2_pd": e2["posted_delta"],
                "e2_qd": e2["pending_delta"],
                "e2_bal": e2["balance_after"],
                "e2_h": e2["hash"],
                "a1_id": a1.id,
                "a1_dp": a1.dp,
                "a1_cp": a1.cp,
                "a1_dq": a1.dq,
                "a1_cq": a1.cq,
                "a1_n": a1.count,
                "a1_h": a1.head,
                "a2_id": a2.id,
                "a2_dp": a2.dp,
                "a2_cp": a2.cp,
                "a2_dq": a2.dq,
                "a2_cq": a2.cq,
                "a2_n": a2.count,
                "a2_h": a2.head,
                "a1_ct": a1.ctid,
                "a2_ct": a2.ctid,
            },
        )
        if not got:
            return []
        # The rows' new versions: the next post in this transaction updates them where they now are.
        a1.ctid, a2.ctid = got[0][1], got[0][2]
        _Locked.of(conn).put(conn, self.tenant, accts)
        return [got[0][0]]

    def _lock_and_reserve(
        self, conn: Connection, codes: Iterable[str], n_journals: int, n_transfers: int
    ) -> tuple[dict[str, _Acct], list[int], list[int]]:
        """Lock the accounts (in code order) and reserve journal and transfer ids: on PostgreSQL one
        round trip for both."""
        if not self._locking(conn) or n_journals + n_transfers > _RESERVE_WITH_LOCK:
            # (Every locked row carries the id arrays: for a batch they are fetched on their own.)
            accts = self._lock_accounts(conn, codes)
            return (accts, *self._reserve(conn, n_journals, n_transfers))
        ordered = sorted(set(codes))
        # Accounts this transaction has locked already are not read again (see _Locked).
        cache = _Locked.of(conn)
        found: dict[str, _Acct] = {}
        missing: list[str] = []
        for code in ordered:
            if (a := cache.get(self.tenant, code)) is not None:
                found[code] = a
            else:
                missing.append(code)
        one = n_journals == n_transfers == 1
        jids: list[int] = []
        tids: list[int] = []
        if not missing:
            if one:
                ((jids, tids),) = _pg_rows(conn, _RESERVE_ONE_PG, {})
                return found, jids, tids
            return (found, *self._reserve(conn, n_journals, n_transfers))
        if len(missing) <= 2 and one:
            sql, params = _LOCK_AND_RESERVE_ONE_PG, {"tenant": self.tenant, "c1": missing[0], "c2": missing[-1]}
        elif n_journals == 1 and n_transfers in _LOCK_AND_RESERVE_SMALL_PG and len(missing) <= _SMALL_CODES:
            sql = _LOCK_AND_RESERVE_SMALL_PG[n_transfers]
            last = len(missing) - 1
            params = {"tenant": self.tenant}
            for i, c in enumerate(_SMALL_CODE_PARAMS):
                params[c] = missing[min(i, last)]
        else:
            sql = _LOCK_AND_RESERVE_PG
            params = {"tenant": self.tenant, "codes": missing, "nj": n_journals, "nt": n_transfers}
        locked = []
        for row in _pg_rows(conn, sql, params):
            found[row[1]] = a = _Acct(row)
            locked.append(a)
            jids, tids = row[13], row[14]
        self._refuse_missing(ordered, found)
        cache.put(conn, self.tenant, locked)
        return found, jids, tids

    def _reserve(self, conn: Connection, n_journals: int, n_transfers: int) -> tuple[list[int], list[int]]:
        """Ids for the journals and transfers about to be inserted (the entries' hashes need them)."""
        if self._locking(conn):
            ((jids, tids),) = _pg_rows(conn, _RESERVE_PG, {"nj": n_journals, "nt": n_transfers})
            return list(jids), list(tids)
        # SQLite: the writer holds the database lock, so max(id) cannot move under us.
        j, t = conn.execute(_MAX_IDS).one()
        return list(range(j + 1, j + 1 + n_journals)), list(range(t + 1, t + 1 + n_transfers))

    def _keys_used(self, conn: Connection, keys: list[str]) -> dict[str, tuple[int, bytes]]:
        used: dict[str, tuple[int, bytes]] = {}
        if self._locking(conn):
            for r in conn.exec_driver_sql(_KEYS_USED_PG, {"tenant": self.tenant, "keys": keys}):
                used[r.key] = (r.id, bytes(r.request_hash))
            return used
        for i in range(0, len(keys), _CHUNK):
            for r in conn.execute(_KEYS_USED, {"tenant": self.tenant, "keys": keys[i : i + _CHUNK]}):
                used[r.key] = (r.id, bytes(r.request_hash))
        return used

    def _journals_by_id(self, conn: Connection, ids: list[int]) -> list[Journal]:
        out = []
        for i in range(0, len(ids), _CHUNK):
            for row in conn.execute(
                select(journals).where(journals.c.tenant_id == self.tenant, journals.c.id.in_(ids[i : i + _CHUNK]))
            ):
                out.append(self._journal_from_row(row, self._status(conn, row)))
        return out

    def _lost_race(self, conn: Connection, journal_row: dict, key: str | None, request: bytes) -> Journal:
        """A concurrent writer committed the same key, resolution or reversal first: say which."""
        if key is not None:
            found = self._by_key(conn, key, request)
            if found is not None:
                return found
        if journal_row["resolves_id"]:
            raise errors.NotPending(f"journal {journal_row['resolves_id']} was resolved by another request just now")
        if journal_row["reverses_id"]:
            raise errors.AlreadyReversed(
                f"journal {journal_row['reverses_id']} was reversed by another request just now"
            )
        raise errors.LedgerError("the journal could not be written; retry the request")

    # -- checking ---------------------------------------------------------------------------
    @_atomic
    def verify(self) -> list[str]:
        """Re-derive everything the ledger caches or chains and list every disagreement; [] is sound."""
        from .verify import verify_book

        return verify_book(self._conn, self.tenant)
