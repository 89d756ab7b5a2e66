"""Member import and export through the pages: upload, dry-run report, background import with progress, .xlsx out."""

from __future__ import annotations

import html as htmllib
import io
import re
import time

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.db import unit_of_work
from app.people.models import ImportJob, Member
from ledger import Ledger
from tests.conftest import csrf_from, sign_in
from tests.factories import make_member, make_town, unique_mobile

HEADERS = ["姓名", "手机号", "身份证号", "网格", "志愿者", "党员"]


def workbook(rows, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, content: bytes, filename: str = "members.xlsx", lang: str = "zh"):
    page = client.get("/members/import")
    assert page.status_code == 200
    return client.post(f"/members/import?lang={lang}", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def job_id_from(resp) -> int:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    return int(re.search(r"/members/import/(\d+)", resp.headers["Location"]).group(1))


def report_rows(html: str) -> list[tuple[str, str]]:
    """(row, column) of each line of the report table, as the user reads them."""
    body = html.split('class="responsive import-errors"', 1)[1].split("</table>", 1)[0]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return [(htmllib.unescape(c[0]), htmllib.unescape(c[1])) for c in cells if c]


def members_in(app, town) -> int:
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        return s.scalar(select(func.count()).select_from(Member).where(Member.tenant_id == town.district.id))


def add_member(app, town, grid, name, **kw) -> int:
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            return make_member(s, town.district.id, grid, name=name, **kw).id


def wait_until_finished(client, job_id: int) -> dict:
    deadline = time.monotonic() + 120  # a guard against a hung thread, not a speed requirement
    while True:
        r = client.get(f"/members/import/{job_id}/status.json")
        assert r.status_code == 200
        state = r.get_json()
        if state["status"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_dry_run_report_lists_every_bad_row_with_excel_row_numbers(app, client, town):
    sign_in(client, town, "grid_admin")
    before = members_in(app, town)
    content = workbook([
        ["张伟", unique_mobile(), None, town.grid_a1.name, "是", "否"],   # row 2: good
        ["王芳", "12345", None, town.grid_a1.name, "是", "否"],           # row 3: bad mobile
        ["李娜", unique_mobile(), None, town.grid_b1.name, "是", "否"],   # row 4: community B, not this admin's
        ["刘洋", unique_mobile(), None, town.grid_b1.id, "是", "否"],     # row 5: the same, by number
    ])

    resp = upload(client, content)
    job_id = job_id_from(resp)
    page = client.get(f"/members/import/{job_id}")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert report_rows(html) == [("3", "手机号"), ("4", "网格"), ("5", "网格")]
    assert f"/members/import/{job_id}/run" not in html  # no import button while rows are bad
    refused = client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(html)})
    assert refused.status_code == 303
    state = client.get(f"/members/import/{job_id}/status.json").get_json()
    assert (state["status"], state["error_count"], state["total_rows"]) == ("checked", 3, 4)
    assert members_in(app, town) == before


def test_good_file_imports_in_the_background_and_status_json_reports_progress(app, client, town):
    sign_in(client, town, "grid_admin")
    before = members_in(app, town)
    mobiles = [unique_mobile() for _ in range(3)]
    content = workbook([[f"会员{i}", m, None, town.grid_a2.name, "是", "否"] for i, m in enumerate(mobiles)])

    job_id = job_id_from(upload(client, content))
    html = client.get(f"/members/import/{job_id}").get_data(as_text=True)
    assert "import-errors" not in html and f'action="/members/import/{job_id}/run"' in html

    started = client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(html)})
    assert started.status_code == 303
    assert started.headers["Location"].endswith(f"/members/import/{job_id}")
    state = wait_until_finished(client, job_id)

    assert state == {"status": "done", "processed_rows": 3, "total_rows": 3, "imported_count": 3, "error_count": 0,
                     "message": state["message"]}
    assert members_in(app, town) == before + 3
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        imported = list(s.scalars(select(Member).where(Member.tenant_id == town.district.id,
                                                       Member.mobile.in_(mobiles))))
        assert {m.grid_id for m in imported} == {town.grid_a2.id}
        book = Ledger(s, tenant=town.district.id)
        assert all(book.account(m.wallet_code).no_overdraft for m in imported)
        event = s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == town.district.id,
                                                   AuditEvent.action == "member.import")).one()
        assert event.detail["imported"] == 3
    # a second click does not import the file again
    again = client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(html)})
    assert again.status_code == 303
    assert members_in(app, town) == before + 3
    done_page = client.get(f"/members/import/{job_id}").get_data(as_text=True)
    assert "<progress" not in done_page and state["message"] in htmllib.unescape(done_page)


def test_a_member_added_after_the_check_stops_the_whole_import(app, client, town):
    sign_in(client, town, "grid_admin")
    before = members_in(app, town)
    mobiles = [unique_mobile() for _ in range(4)]
    content = workbook([[f"会员{i}", m, None, town.grid_a1.name, "是", "否"] for i, m in enumerate(mobiles)])
    job_id = job_id_from(upload(client, content))
    html = client.get(f"/members/import/{job_id}").get_data(as_text=True)
    add_member(app, town, town.grid_a1, "抢先登记", mobile=mobiles[2])  # row 4's mobile, registered meanwhile

    client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(html)})
    state = wait_until_finished(client, job_id)

    assert (state["status"], state["imported_count"], state["error_count"]) == ("failed", 0, 1)
    assert members_in(app, town) == before + 1  # only the member added by hand
    assert report_rows(client.get(f"/members/import/{job_id}").get_data(as_text=True)) == [("4", "手机号")]


def test_a_running_import_shows_a_progress_bar_that_import_js_updates(app, client, town):
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        job = ImportJob(tenant_id=town.district.id, filename="big.xlsx", content=b"", status="importing",
                        total_rows=1000, processed_rows=400, scope_path=town.community_a.path)
        s.add(job)
        s.flush()
        job_id = job.id
    sign_in(client, town, "grid_admin")

    html = client.get(f"/members/import/{job_id}").get_data(as_text=True)

    assert '<progress max="1000" value="400">' in html
    assert f'data-import-status-url="/members/import/{job_id}/status.json"' in html
    assert '<script src="/static/js/import.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline scripts break under CSP script-src 'self'"
    assert f"/members/import/{job_id}/run" not in html
    state = client.get(f"/members/import/{job_id}/status.json").get_json()
    assert (state["status"], state["processed_rows"], state["total_rows"]) == ("importing", 400, 1000)
    with client.get("/static/js/import.js") as js:
        assert js.status_code == 200 and b"data-import-status-url" in js.get_data()  # the URL comes from the page


def test_a_csv_in_another_encoding_is_refused_on_the_form(app, client, town):
    sign_in(client, town, "grid_admin")
    content = f"姓名,手机号,网格\r\n张伟,{unique_mobile()},{town.grid_a1.name}\r\n".encode("utf-16")

    resp = upload(client, content, "members.csv", lang="en")

    assert resp.status_code == 422
    assert "encoding is not UTF-8 or GBK" in resp.get_data(as_text=True)
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        assert s.scalar(select(func.count()).select_from(ImportJob).where(ImportJob.tenant_id == town.district.id)) == 0


def test_gbk_csv_uploads_and_checks(app, client, town):
    sign_in(client, town, "grid_admin")
    content = f"姓名,手机号,网格\r\n欧阳娜娜,{unique_mobile()},{town.grid_a1.name}\r\n".encode("gbk")

    job_id = job_id_from(upload(client, content, "members.csv"))

    assert client.get(f"/members/import/{job_id}/status.json").get_json()["total_rows"] == 1
    assert "Import 1 members" in client.get(f"/members/import/{job_id}?lang=en").get_data(as_text=True)


def test_template_download_has_the_headers_and_its_example_row_is_refused(app, client, town):
    sign_in(client, town, "grid_admin")
    with client.get("/members/import/template.xlsx") as r:
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        content = r.get_data()
    rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("姓名", "手机号", "身份证号", "网格", "志愿者", "党员", "党组织", "报到社区", "网格员", "楼栋长")
    assert rows[1][0].startswith("示例")

    job_id = job_id_from(upload(client, content))

    state = client.get(f"/members/import/{job_id}/status.json").get_json()
    assert (state["total_rows"], state["error_count"]) == (1, 1)
    html = client.get(f"/members/import/{job_id}?lang=en").get_data(as_text=True)
    assert report_rows(html) == [("2", "姓名")]
    assert "the template&#39;s example row" in html and f"/members/import/{job_id}/run" not in html


def test_an_organiser_without_member_import_gets_403(client, town):
    sign_in(client, town, "organiser")
    assert client.get("/members/import").status_code == 403
    assert client.get("/members/import/template.xlsx").status_code == 403
    assert client.get("/members/export.xlsx").status_code == 403
    page = client.get("/members/")
    listing = page.get_data(as_text=True)
    assert "/members/import" not in listing and "/members/export.xlsx" not in listing
    resp = client.post("/members/import", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                 "file": (io.BytesIO(workbook([])), "m.xlsx")},
                       content_type="multipart/form-data")
    assert resp.status_code == 403


def test_another_districts_import_is_not_found(app, client, town):
    with app.app_context(), app.test_request_context():
        with unit_of_work(app.extensions["db_sessionmaker"]) as s:
            other = make_town(s)
            job = ImportJob(tenant_id=other.district.id, filename="x.xlsx", content=b"", status="checked", total_rows=1)
            s.add(job)
            s.flush()
            job_id = job.id
    sign_in(client, town, "district_admin")
    assert client.get(f"/members/import/{job_id}").status_code == 404
    assert client.get(f"/members/import/{job_id}/status.json").status_code == 404
    page = client.get("/members/import").get_data(as_text=True)
    assert client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(page)}).status_code == 404


def test_export_holds_the_filtered_scoped_rows_masked_and_is_audited(app, client, town):
    party_a = add_member(app, town, town.grid_a2, "党员甲", is_party_member=True, id_number="11010519491231002X")
    add_member(app, town, town.grid_b1, "党员乙", is_party_member=True)  # community B: outside the grid admin's area
    sign_in(client, town, "grid_admin")
    listing = client.get("/members/?tag=party_member&status=active").get_data(as_text=True)
    assert "/members/import" in listing
    assert re.search(r'href="/members/export\.xlsx\?(?=[^"]*tag=party_member)(?=[^"]*status=active)', listing)

    with client.get("/members/export.xlsx?tag=party_member&status=active") as r:
        assert r.status_code == 200
        assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        content = r.get_data()
    rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))

    assert rows[0] == ("姓名", "手机号", "身份证号", "网格", "志愿者", "党员", "党组织", "报到社区", "网格员", "楼栋长",
                       "社区", "街道", "状态", "编号")
    assert [(r[-1], r[0]) for r in rows[1:]] == [(party_a, "党员甲")]
    _, mobile, id_masked, grid, volunteer, party, _, _, _, _, community, street, _, _ = rows[1]
    assert (volunteer, party) == ("是", "是")
    assert re.fullmatch(r"1\d\d\*{4}\d{4}", mobile)
    assert id_masked == "1101**********002X"
    assert (grid, community, street) == (town.grid_a2.name, "凤凰社区", "凤凰街道")
    with app.app_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.tenant_id == town.district.id,
                                                   AuditEvent.action == "member.export")).one()
        assert event.detail["rows"] == 1
        assert event.detail["filter"]["tag"] == "party_member" and event.detail["filter"]["status"] == "active"


def test_export_of_the_whole_list_never_contains_a_full_mobile(app, client, town):
    sign_in(client, town, "district_admin")
    with client.get("/members/export.xlsx") as r:
        content = r.get_data()
    rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 1 + len(town.users)
    full = {mobile for _, mobile, _ in town.users.values()}
    assert not any(str(cell) in full for row in rows for cell in row)
    assert {r[0] for r in rows[1:]} == {m.name for m, _, _ in town.users.values()}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_import_page_renders_in_both_languages(client, town, lang):
    sign_in(client, town, "grid_admin")
    r = client.get(f"/members/import?lang={lang}")
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.get_data(as_text=True)


def test_an_import_cut_off_by_a_server_stop_is_marked_by_the_sweep_and_can_be_run_again(app, client, town):
    """A job left "importing" by a dead worker wrote nothing (members commit with "done"). The worker's
    sweep (at its start and every five minutes) marks it cut off; the page offers to run it again, which
    imports every row once."""
    from datetime import timedelta

    from app.db import utcnow
    from app.people import import_job

    sign_in(client, town, "grid_admin")
    before = members_in(app, town)
    mobiles = [unique_mobile() for _ in range(2)]
    content = workbook([[f"断点{i}", m, None, town.grid_a2.name, "是", "否"] for i, m in enumerate(mobiles)])
    job_id = job_id_from(upload(client, content))
    factory = app.extensions["db_sessionmaker"]
    # As a worker stopped mid-import leaves it, its last progress a minute ago:
    with app.app_context(), unit_of_work(factory) as s:
        job = s.get(ImportJob, job_id)
        job.status, job.started_at, job.heartbeat_at = "importing", utcnow(), utcnow() - timedelta(minutes=1)
    import_job.sweep(factory)
    html = client.get(f"/members/import/{job_id}").get_data(as_text=True)
    assert "<progress" in html  # a minute without progress: still counted as running
    with app.app_context(), unit_of_work(factory) as s:
        s.get(ImportJob, job_id).heartbeat_at = utcnow() - timedelta(minutes=30)
    assert import_job.sweep(factory)["interrupted"] >= 1

    html = client.get(f"/members/import/{job_id}?lang=en").get_data(as_text=True)
    assert "<progress" not in html and f'action="/members/import/{job_id}/run"' in html and "cut off" in html
    assert client.get(f"/members/import/{job_id}/status.json").get_json()["status"] == "interrupted"
    assert members_in(app, town) == before
    assert client.post(f"/members/import/{job_id}/run", data={"csrf_token": csrf_from(html)}).status_code == 303
    assert wait_until_finished(client, job_id)["status"] == "done"
    assert members_in(app, town) == before + 2
