"""Child process for test_points_expiry: runs the expiry job for one district, optionally stopping in
the middle of a page (after its expiry journals are written, before that page commits) to be SIGKILLed.

Usage: python expiry_child.py URL TENANT NOW_ISO PAGE MODE; MODE is
  stall   print WRITING when the 3rd expiry page has written its journals and lots, then wait (transaction open;
          the run's other worker then waits for the `expired` account's lock);
  finish  just run.
After the run it prints "DONE <lots expired>".
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from app.db import make_engine
from app.points import lots


def main() -> None:
    url, tenant, now, page, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    engine = make_engine(url)
    pages = 0
    lock = threading.Lock()  # the run's workers (threads, one connection each) count pages together

    if mode == "stall":

        @event.listens_for(engine, "commit")
        def _committed(conn):
            conn.info["journals_in_txn"] = False

        @event.listens_for(engine, "after_cursor_execute")
        def _stall(conn, cursor, statement, parameters, context, executemany):
            nonlocal pages
            upper = statement.upper()
            if "INSERT INTO LEDGER_JOURNALS" in upper:
                conn.info["journals_in_txn"] = True
                return
            if not ("INSERT INTO POINTS_LOT_MARKS" in upper or "UPDATE POINTS_LOT_MARKS" in upper):
                return
            if not conn.info.get("journals_in_txn"):
                return
            with lock:
                pages += 1  # an expiry page has posted its journals and written its cache
                if pages == 3:
                    print("WRITING", flush=True)
                    time.sleep(120)  # the parent kills us long before this ends
                    sys.exit("expiry_child: was not killed while stalled")

    run = lots.expire_due(sessionmaker(engine), tenant, datetime.fromisoformat(now), page=page)
    print(f"DONE {run.lots}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
