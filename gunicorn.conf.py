"""gunicorn settings shared by `make serve` and the benchmarks' servers (tests/bench/checkin_bench.py):
both pass `--config gunicorn.conf.py`, so what the benchmarks measure is what production runs.

The GIL's switch interval is 1 ms in each worker instead of Python's 5 ms. With several threads in a
worker (gthread), a thread whose database round trip has returned waits for the GIL until the running
thread gives it up — up to the switch interval — and it may be holding row locks meanwhile (a busy
outlet's points account, from the ledger's lock to the commit). Measured in docs/outlets.md ("Server
settings"); with one thread per worker (sync) there is no other thread and it changes nothing.
"""

import sys

SWITCH_INTERVAL_S = 0.001


def post_worker_init(worker) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
