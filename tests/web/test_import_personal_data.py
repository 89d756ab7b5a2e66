"""Plain 身份证 numbers are not kept (issue 6 item 1): after an import, after a check that found problems,
and after a file nobody imported, no text or binary column of any table (the schema reflected from the
database, so a new table is scanned too) and no log line holds a plain ID number from the uploaded file."""

from __future__ import annotations

import io
import logging
import random
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import JSON, LargeBinary, MetaData, String, Text, select

from app.db import unit_of_work, utcnow
from app.people import import_job
from app.people.identity import id_check_char
from app.people.models import ImportJob
from tests.conftest import csrf_from, sign_in
from tests.factories import unique_mobile

# The job writes its progress from its own connection; SQLite cannot reflect the expression index.
pytestmark = [
    pytest.mark.commits,
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
]


def fresh_id_number() -> str:
    first17 = (
        f"44031119{random.randint(50, 99)}0{random.randint(1, 9)}1{random.randint(1, 9)}{random.randint(0, 999):03d}"
    )
    return first17 + id_check_char(first17)


def texts_in(value) -> list[str]:
    """A stored value as the texts to search: bytes decoded, an .xlsx unpacked, JSON as written."""
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        found = [raw.decode("utf-8", "replace"), raw.decode("gb18030", "replace")]
        if raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                found += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        return found
    return [str(value)]


def columns_holding(engine, needles: list[str]) -> list[str]:
    """table.column of every text, JSON or binary column where any needle occurs."""
    meta = MetaData()
    meta.reflect(engine)
    hits = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON, LargeBinary))]
            for col in cols:
                for (value,) in conn.execute(select(col).where(col.is_not(None))):
                    if any(n in t for t in texts_in(value) for n in needles):
                        hits.append(f"{table.name}.{col.name}")
                        break
    return hits


def upload(client, content: bytes, filename: str):
    page = client.get("/members/import")
    return client.post(
        "/members/import",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def job_id_of(resp) -> int:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    return int(re.search(r"/members/import/(\d+)", resp.headers["Location"]).group(1))


def test_no_plain_id_number_is_kept_in_any_column_or_log_after_imports(app, client, town, engine, caplog):
    caplog.set_level(logging.DEBUG)
    good, bad_check, twice, waiting = (fresh_id_number() for _ in range(4))
    bad_check = bad_check[:17] + ("0" if bad_check[17] != "0" else "1")
    grid = town.grid_a1.name
    sign_in(client, town, "grid_admin")

    # 1. A file imported: the members keep only the hash and the masked form.
    imported = job_id_of(
        upload(client, f"姓名,手机号,身份证号,网格\r\n张伟,{unique_mobile()},{good},{grid}\r\n".encode(), "good.csv")
    )
    html = client.get(f"/members/import/{imported}").get_data(as_text=True)
    client.post(f"/members/import/{imported}/run", data={"csrf_token": csrf_from(html)})
    # 2. A file whose check found problems: never importable, its report shows the values masked.
    rejected = job_id_of(
        upload(
            client,
            (
                "姓名,手机号,身份证号,网格\r\n"
                f"王芳,{unique_mobile()},{bad_check},{grid}\r\n"
                f"李娜,{unique_mobile()},{twice},{grid}\r\n"
                f"刘洋,{unique_mobile()},{twice},{grid}\r\n"
            ).encode(),
            "bad.csv",
        )
    )
    # 3. A file checked and never imported (as an .xlsx: its content is a zip, unpacked by the scan).
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["姓名", "手机号", "身份证号", "网格"])
    wb.active.append(["陈静", unique_mobile(), waiting, grid])
    out = io.BytesIO()
    wb.save(out)
    never_run = job_id_of(upload(client, out.getvalue(), "later.xlsx"))

    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        assert s.get(ImportJob, imported).status == "done"
        assert s.get(ImportJob, rejected).error_count == 2
    assert columns_holding(engine, [waiting]) == ["import_jobs.content"]  # kept while "Import" may be pressed
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        s.get(ImportJob, never_run).created_at = utcnow() - import_job.ABANDON_AFTER - timedelta(minutes=1)
    import_job.sweep(app.extensions["db_sessionmaker"])

    assert columns_holding(engine, [good, bad_check, twice, waiting]) == []
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert not any(n in logged for n in (good, bad_check, twice, waiting))
    # The report still says which row and shows the value masked.
    report = client.get(f"/members/import/{rejected}").get_data(as_text=True)
    assert f"{bad_check[:4]}**********{bad_check[-4:]}" in report
