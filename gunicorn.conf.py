"""gunicorn's settings file. gunicorn reads ./gunicorn.conf.py from the directory it starts in, so this
applies to `make serve` (whose command line in the Makefile sets workers, bind and timeouts) and to the
benchmarks' servers (tests/bench/checkin_bench.py), which start gunicorn from the repository's root."""

from __future__ import annotations

import gc


def post_worker_init(worker) -> None:
    """Once a worker has loaded the app, take everything alive at that moment (modules, the app, its
    views and SQLAlchemy's mappers: about 200,000 objects) out of the cyclic garbage collector's scans
    with `gc.freeze()`; they live as long as the worker anyway. Without it, each full collection re-walks
    them all, and while it runs every thread of the worker stands still: 200-360 ms a time under section
    16's load, in all four workers within the same half second, once they had served ~500 redemptions
    each. Frozen, the same collections took 3-8 ms (docs/outlets.md, "Garbage collection pauses").
    Objects are still freed by reference counting as before; only cycles among them would stay."""
    gc.freeze()
    worker.log.info(
        "worker %s: %d objects frozen out of the garbage collector's scans", worker.pid, gc.get_freeze_count()
    )
