"""Child process for test_ledger_crash: posts one journal, optionally stopping mid-write to be SIGKILLed.

Usage: python crash_child.py URL TENANT KEY MODE, with {"kind": ..., "transfers": [[debit, credit, amount], ...]}
on stdin. MODE is
  stall   print WRITING once the statement that inserts into ledger_transfers has run, then wait (transaction
          open);
  commit  print WRITING as the journal's COMMIT is sent and carry on, so the kill lands around it;
  finish  just post.
After committing it prints "JOURNAL <id>".
"""

from __future__ import annotations

import json
import sys
import time

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import make_engine
from ledger import Ledger, Transfer


def main() -> None:
    url, tenant, key, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    request = json.load(sys.stdin)
    engine = make_engine(url)
    posting = False

    def writing_transfers(statement: str) -> bool:
        # On PostgreSQL the transfers go in inside the one statement that writes the journal's rows.
        return "INSERT INTO LEDGER_TRANSFERS" in statement.upper()

    if mode == "commit":

        @event.listens_for(engine, "commit")
        def _announce(conn):
            if posting:
                print("WRITING", flush=True)

    elif mode == "stall":

        @event.listens_for(engine, "after_cursor_execute")
        def _stall(conn, cursor, statement, parameters, context, executemany):
            if writing_transfers(statement):
                print("WRITING", flush=True)
                time.sleep(120)  # the parent kills us long before this ends
                sys.exit("crash_child: was not killed while stalled")

    transfers = [Transfer(d, c, a) for d, c, a in request["transfers"]]
    posting = True
    with Session(engine) as s:
        journal = Ledger(s, tenant=tenant).post(transfers, kind=request["kind"], key=key)
        s.commit()
    print(f"JOURNAL {journal.id}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
