"""Child process for test_fund_crash: runs the fund's sweep for one district, optionally stopping in
the middle of a page (after that page's release journals are written, before it commits) to be SIGKILLed.

Usage: python fund_sweep_child.py URL TENANT NOW_ISO PAGE MODE; MODE is
  stall   print WRITING when the 3rd page has written its first release journal, then wait (transaction open);
  finish  just run.
After the run it prints "DONE <expired> <returned>".
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from app import create_app
from app.db import make_engine
from app.fund import jobs


def main() -> None:
    url, tenant, now, page, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    engine = make_engine(url)
    app = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": url,
            "ENGINE": engine,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    written = 0

    if mode == "stall":

        @event.listens_for(engine, "after_cursor_execute")
        def _stall(conn, cursor, statement, parameters, context, executemany):
            nonlocal written
            if "INSERT INTO LEDGER_JOURNALS" in statement.upper():
                written += 1
                # A page's releases go in with one statement (Ledger.void_pending_many): two pages
                # committed, the third's releases written and not committed.
                if written == 3:
                    print("WRITING", flush=True)
                    time.sleep(120)  # the parent kills us long before this ends
                    sys.exit("fund_sweep_child: was not killed while stalled")

    with app.app_context():
        run = jobs.sweep(sessionmaker(engine), tenant, datetime.fromisoformat(now), page=page)
    print(f"DONE {run.expired} {run.returned}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
