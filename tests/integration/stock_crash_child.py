"""Child process for test_outlets_crash: receives one large donation at an outlet through the outlets
service, optionally stopping mid-write to be SIGKILLed.

Usage: python stock_crash_child.py URL OUTLET_ID KEY MODE, with {"lines": [[item id, qty], ...]} on stdin.
MODE: stall (print WRITING once the ledger's transfers are inserted, then wait with the transaction open),
commit (print WRITING as the COMMIT is sent and carry on), finish (just receive). After committing it
prints "MOVEMENT <id>".
"""

from __future__ import annotations

import json
import sys
import time

from sqlalchemy import event

from app import create_app
from app.db import unit_of_work
from app.outlets import stock
from app.outlets.labels import DONATION
from app.outlets.models import Outlet


def main() -> None:
    url, outlet_id, key, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    lines = [tuple(x) for x in json.load(sys.stdin)["lines"]]
    app = create_app({"DATABASE_URL": url, "ENV": "test", "SECRET_KEY": "crash-child", "WTF_CSRF_ENABLED": False})
    engine = app.extensions["db_engine"]
    posting = False

    if mode == "commit":

        @event.listens_for(engine, "commit")
        def _announce(conn):
            if posting:
                print("WRITING", flush=True)

    elif mode == "stall":

        @event.listens_for(engine, "after_cursor_execute")
        def _stall(conn, cursor, statement, parameters, context, executemany):
            if "INSERT INTO LEDGER_TRANSFERS" in statement.upper():
                print("WRITING", flush=True)
                time.sleep(120)
                sys.exit("stock_crash_child: was not killed while stalled")

    with app.app_context(), app.test_request_context():
        posting = True
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            outlet = s.get(Outlet, outlet_id)
            movement = stock.receive(s, outlet, None, DONATION, lines, donor="光明爱心企业", key=key)
            mid = movement.id
    print(f"MOVEMENT {mid}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
