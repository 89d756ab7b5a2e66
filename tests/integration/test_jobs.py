"""Background jobs (app/jobs.py): work is enqueued only after its transaction commits, a real Huey worker
process runs a queued import from the queue's storage file, and the periodic sweep finds jobs cut off by a
stop or never run (deleting their uploaded file)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select, text

from app.db import after_commit, unit_of_work, utcnow
from app.jobs import huey
from app.people import import_job
from app.people.models import ImportJob, Member
from config import ROOT
from tests.conftest import csrf_from, sign_in
from tests.factories import unique_mobile

pytestmark = pytest.mark.commits  # a worker process and other connections read what the job commits


def workbook(rows) -> bytes:
    wb = Workbook()
    wb.active.append(["姓名", "手机号", "网格"])
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload_checked(client, content: bytes) -> int:
    page = client.get("/members/import")
    resp = client.post(
        "/members/import",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "file": (io.BytesIO(content), "m.xlsx")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def job_state(app, job_id: int) -> ImportJob:
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        job = s.get(ImportJob, job_id)
        s.expunge(job)
        return job


def test_after_commit_work_runs_once_the_transaction_commits_and_never_after_a_rollback(app):
    factory = app.extensions["db_sessionmaker"]
    calls = []
    with unit_of_work(factory) as s:
        after_commit(s, lambda: calls.append("committed"))
        s.execute(text("SELECT 1"))
        assert calls == []  # not before the commit
    assert calls == ["committed"]

    with pytest.raises(RuntimeError), unit_of_work(factory) as s:
        after_commit(s, lambda: calls.append("rolled back"))
        raise RuntimeError("the unit of work fails")
    with unit_of_work(factory) as s:  # the next transaction on a fresh session runs nothing left over
        s.execute(text("SELECT 1"))
    assert calls == ["committed"]


@pytest.fixture
def real_queue():
    """The Huey queue on its real storage (the SQLite file HUEY_FILE names), not immediate mode."""
    huey.immediate = False
    huey.flush()
    yield huey
    huey.flush()
    huey.immediate = True


@pytest.mark.slow
def test_a_queued_import_waits_in_the_queue_and_a_worker_process_runs_it(app, client, town, db_url, real_queue):
    """Honest end to end: the web request only queues the job (after its commit); a separate worker process
    started afterwards (`huey_consumer app.worker.huey`, as `make run` and production start it) finds it in
    the queue's file, imports it and writes progress and state that this process reads."""
    sign_in(client, town, "grid_admin")
    mobiles = [unique_mobile() for _ in range(3)]
    job_id = upload_checked(client, workbook([[f"队列{i}", m, town.grid_a1.name] for i, m in enumerate(mobiles)]))
    html = client.get(f"/members/import/{job_id}").get_data(as_text=True)

    assert client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(html)}).status_code == 303

    assert job_state(app, job_id).status == "queued" and real_queue.pending_count() == 1
    assert "<progress" in client.get(f"/members/import/{job_id}").get_data(as_text=True)
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": app.config["SECRET_KEY"]}
    worker = subprocess.Popen(
        [sys.executable, "-m", "huey.bin.huey_consumer", "app.worker.huey", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while job_state(app, job_id).status in ("queued", "importing") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)

    job = job_state(app, job_id)
    assert (job.status, job.imported_count, job.processed_rows, job.content) == ("done", 3, 3, None), err.decode()[
        -3000:
    ]
    state = client.get(f"/members/import/{job_id}/status.json").get_json()
    assert state["status"] == "done" and "3" in state["message"]
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        assert (
            len(list(s.scalars(select(Member).where(Member.tenant_id == town.district.id, Member.mobile.in_(mobiles)))))
            == 3
        )


def test_the_sweep_abandons_jobs_nobody_ran_and_deletes_their_file(app, client, town):
    factory = app.extensions["db_sessionmaker"]
    sign_in(client, town, "grid_admin")
    old = upload_checked(client, workbook([["甲", unique_mobile(), town.grid_a1.name]]))
    fresh = upload_checked(client, workbook([["乙", unique_mobile(), town.grid_a1.name]]))
    with app.app_context(), unit_of_work(factory) as s:
        s.get(ImportJob, old).created_at = utcnow() - import_job.ABANDON_AFTER - timedelta(minutes=1)
    assert job_state(app, old).content is not None  # checked, waiting for "Import": the file is still needed

    import_job.sweep(factory)

    gone, kept = job_state(app, old), job_state(app, fresh)
    assert (gone.status, gone.content, gone.outcome) == ("abandoned", None, "abandoned")
    assert (kept.status, kept.content is not None) == ("checked", True)
    html = client.get(f"/members/import/{old}?lang=en").get_data(as_text=True)
    assert "was deleted" in html and f'action="/members/import/{old}/run"' not in html
    page = client.get("/members/import").get_data(as_text=True)
    assert client.post(f"/members/import/{old}/run", data={"csrf_token": csrf_from(page)}).status_code == 303
    assert job_state(app, old).status == "abandoned"  # pressing "Import" on it afterwards changes nothing


def test_the_sweep_runs_every_five_minutes_and_when_a_worker_starts():
    periodic = {t.name for t in huey.read_periodic(datetime(2026, 12, 1, 10, 5))}
    assert any(name.endswith("sweep_import_jobs") for name in periodic)
    assert not any(
        n.endswith("sweep_import_jobs") for n in {t.name for t in huey.read_periodic(datetime(2026, 12, 1, 10, 7))}
    )
    assert any("sweep" in name for name in huey._startup)


def test_progress_is_committed_as_the_file_is_read_and_readable_from_another_connection(app, town):
    """No progress kept in memory: each step is its own committed transaction, which another connection
    reads while the import goes on (on SQLite too: no write lock is held meanwhile)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    factory = app.extensions["db_sessionmaker"]
    engine = app.extensions["db_engine"]
    content = workbook(
        [[f"进度{i}", f"136{town.district.id % 10_000:04d}{i:04d}", town.grid_a1.id] for i in range(2500)]
    )
    with unit_of_work(factory) as s:
        job = ImportJob(
            tenant_id=town.district.id, filename="p.xlsx", content=content, status="queued", total_rows=2500
        )
        s.add(job)
        s.flush()
        job_id = job.id
    seen = []

    def look(_session):
        with engine.connect() as conn:  # another connection, as the status page in another process
            seen.append(
                tuple(
                    conn.execute(select(ImportJob.status, ImportJob.processed_rows).where(ImportJob.id == job_id)).one()
                )
            )

    event.listen(Session, "after_commit", look)
    try:
        with app.app_context():
            assert import_job.import_queued_job(
                factory, job_id, may_edit=lambda unit: True, id_key=b"k", actor_user_id=None
            )
    finally:
        event.remove(Session, "after_commit", look)

    assert seen == [("importing", 0), ("importing", 1000), ("importing", 2000), ("importing", 2500), ("done", 2500)]
    done = job_state(app, job_id)
    assert (done.imported_count, done.content, done.outcome_params) == (2500, None, {"n": 2500})
