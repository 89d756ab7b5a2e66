"""The outlet pages (management, catalogue, stock, counts, reports, home, district view) through the
Flask test client: each page for the role it is for, 404 for another outlet's staff, bad input answered
with a message that says what to fix and nothing written, the catalogue import's dry run and all-or-none."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from PIL import Image
from sqlalchemy import func, select

from app.db import unit_of_work
from app.outlets.models import Item, ItemPrice, Outlet, OutletItem, StockCount, StockMovement
from app.outlets.page_queries import shelf_now
from tests.conftest import csrf_from
from tests.conftest import sign_in as sign_in_role
from tests.factories import PASSWORD
from tests.outlets_world import make_shop, sound


@pytest.fixture
def shop(app, town, tmp_path):
    app.config["OUTLET_PHOTO_DIR"] = str(tmp_path / "photos")
    app.config["OUTLET_IMPORT_DIR"] = str(tmp_path / "imports")
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        return make_shop(s, town)


def sign_in(client, town, role: str):
    """Sign in as the town's `role`, pages in English (the messages the tests read)."""
    client.get("/?lang=en")
    return sign_in_role(client, town, role)


def sign_in_as(client, town, member):
    client.get("/?lang=en")
    page = client.get("/signin")
    resp = client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "district": town.district.id,
            "mobile": member.mobile,
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def post(client, url, data, **kw):
    page = client.get(kw.pop("form_url", url))
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, **kw)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def db(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


# --- outlet management ------------------------------------------------------------------------------


def test_district_admin_creates_an_outlet_by_typing_its_community_and_gives_it_staff(app, client, town, shop):
    sign_in(client, town, "district_admin")
    assert "凤凰社区爱心超市" in text(client.get("/outlets/"))
    resp = post(
        client,
        "/outlets/new",
        {
            "unit-text": "塘家社区",
            "name": "塘家社区爱心超市（二店）",
            "address": "塘家路8号",
            "opening_hours": "周六 9:00-12:00",
        },
    )
    assert resp.status_code == 302, text(resp)[:3000]
    with app.app_context(), db(app) as s:
        outlet = s.scalar(select(Outlet).where(Outlet.name == "塘家社区爱心超市（二店）"))
        assert outlet.org_unit_id == town.community_b.id and outlet.address == "塘家路8号"
    # The same name again: a message on the name, nothing new.
    again = post(client, "/outlets/new", {"unit-text": "塘家社区", "name": "塘家社区爱心超市（二店）"})
    assert again.status_code == 422 and "already exists" in text(again)
    # Renaming another outlet to it: the same message on the edit page (it once failed with a 500).
    edit = f"/outlets/{shop.b.id}/edit"
    renamed = post(client, edit, {"unit": town.community_b.id, "name": "塘家社区爱心超市（二店）", "active": "y"})
    assert renamed.status_code == 422 and "already exists" in text(renamed)
    with app.app_context(), db(app) as s:
        assert s.get(Outlet, shop.b.id).name == "塘家社区爱心超市"  # unchanged
    # Staff: found by part of the name, given the role for this outlet only.
    volunteer = town.users["volunteer"][0]
    found = client.get(f"/outlets/{outlet.id}/staff?who={volunteer.name[:1]}")
    assert volunteer.name in text(found)
    resp = post(
        client, f"/outlets/{outlet.id}/staff?who={volunteer.name}", {"member_id": volunteer.id, "role": "outlet_staff"}
    )
    assert resp.status_code == 302
    assert volunteer.name in text(client.get(f"/outlets/{outlet.id}/staff"))
    # Nobody chosen: says what to do.
    resp = post(client, f"/outlets/{outlet.id}/staff", {"member_id": "", "role": "outlet_staff"})
    assert resp.status_code == 422 and "choose them" in text(resp), text(resp)[-2500:]


def test_an_outlet_must_belong_to_a_community_or_street(client, town, shop):
    sign_in(client, town, "district_admin")
    resp = post(client, "/outlets/new", {"unit-text": "凤凰第一片区网格", "name": "网格超市"})
    assert resp.status_code == 422 and "Nothing you may choose" in text(resp)


def test_staff_see_their_outlet_and_get_404_for_another(client, town, shop):
    sign_in_as(client, town, shop.people["staff_a"])
    home = client.get(f"/outlets/{shop.a.id}")
    assert home.status_code == 200 and "凤凰社区爱心超市" in text(home) and "This month" in text(home)
    for path in ("", "/stock", "/stock-report", "/count", "/stock/donation", "/staff"):
        assert client.get(f"/outlets/{shop.b.id}{path}").status_code == 404, path
    # Staff may not count stock or edit the outlet (supervisors and admins do): visible, so 403.
    assert client.get(f"/outlets/{shop.a.id}/count").status_code == 403
    assert client.get(f"/outlets/{shop.a.id}/edit").status_code == 403
    # Their home page has the outlet's panel.
    assert "凤凰社区爱心超市" in text(client.get("/"))
    listed = text(client.get("/outlets/"))
    assert "凤凰社区爱心超市" in listed and "塘家社区爱心超市" not in listed


# --- catalogue --------------------------------------------------------------------------------------


def _png(size=(1600, 900), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_admin_adds_an_item_with_a_photo_served_with_long_caching(app, client, town, shop):
    sign_in(client, town, "district_admin")
    resp = post(
        client,
        "/outlets/catalogue/new",
        {
            "name": "洗衣液 2kg",
            "category": "日化",
            "kind": "goods",
            "unit_name": "瓶",
            "points": "30",
            "value_yuan": "22.90",
            "limit_qty": "2",
            "limit_period": "month",
            "photo": (io.BytesIO(_png()), "soap.png"),
        },
        content_type="multipart/form-data",
        form_url="/outlets/catalogue/new",
    )
    assert resp.status_code == 302, text(resp)[:3000]
    with app.app_context(), db(app) as s:
        item = s.scalar(select(Item).where(Item.tenant_id == town.district.id, Item.name == "洗衣液 2kg"))
        assert item.value_fen == 2290 and item.limit_qty == 2 and item.photo
    photo = client.get(f"/outlets/photos/{item.photo}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert "immutable" in photo.headers["Cache-Control"] and photo.headers["ETag"]
    assert max(Image.open(io.BytesIO(photo.data)).size) == 800
    again = client.get(f"/outlets/photos/{item.photo}", headers={"If-None-Match": photo.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/outlets/photos/..%2Fsecret.jpg").status_code == 404
    assert "洗衣液 2kg" in text(client.get("/outlets/catalogue/"))


def test_bad_item_input_says_what_to_fix_and_writes_nothing(app, client, town, shop):
    sign_in(client, town, "district_admin")
    resp = post(client, "/outlets/catalogue/new", {"name": "矿泉水", "kind": "goods", "points": "0"})
    assert resp.status_code == 422 and "1 to 100,000 points" in text(resp)
    resp = post(client, "/outlets/catalogue/new", {"name": "矿泉水", "kind": "goods", "points": "5", "limit_qty": "2"})
    assert resp.status_code == 422 and "period" in text(resp)
    resp = post(
        client, "/outlets/catalogue/new", {"name": "矿泉水", "kind": "goods", "points": "5", "value_yuan": "abc"}
    )
    assert resp.status_code == 422 and "25.50" in text(resp)
    resp = post(
        client,
        "/outlets/catalogue/new",
        {"name": "矿泉水", "kind": "goods", "points": "5", "photo": (io.BytesIO(b"not an image"), "x.jpg")},
        content_type="multipart/form-data",
        form_url="/outlets/catalogue/new",
    )
    assert resp.status_code == 422 and "not a photo" in text(resp)
    # Renaming an item to another item's name: said on the form, the item unchanged (it once was a 500).
    resp = post(
        client,
        f"/outlets/catalogue/{shop.oil.id}",
        {"name": "大米 5kg", "kind": "goods", "points": "25", "active": "y"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and "already in the catalogue" in text(resp)
    with app.app_context(), db(app) as s:
        assert s.get(Item, shop.oil.id).name != "大米 5kg"
    with app.app_context(), db(app) as s:
        assert s.scalar(select(Item).where(Item.tenant_id == town.district.id, Item.name == "矿泉水")) is None


def test_a_price_change_is_a_new_version(app, client, town, shop):
    sign_in(client, town, "district_admin")
    resp = post(
        client,
        f"/outlets/catalogue/{shop.rice.id}/price",
        {"points": "55", "reason": "进价上涨"},
        form_url=f"/outlets/catalogue/{shop.rice.id}",
    )
    assert resp.status_code == 302
    page = text(client.get(f"/outlets/catalogue/{shop.rice.id}"))
    assert "进价上涨" in page and "55" in page
    with app.app_context(), db(app) as s:
        versions = s.scalars(
            select(ItemPrice.points).where(ItemPrice.item_id == shop.rice.id).order_by(ItemPrice.version)
        ).all()
    assert versions == [50, 55]
    bad = post(
        client,
        f"/outlets/catalogue/{shop.rice.id}/price",
        {"points": "-3"},
        form_url=f"/outlets/catalogue/{shop.rice.id}",
    )
    assert bad.status_code == 422


def test_staff_cannot_change_the_catalogue(client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    assert client.get("/outlets/catalogue/").status_code == 200
    assert client.get("/outlets/catalogue/new").status_code == 403
    assert client.get("/outlets/catalogue/import").status_code == 403


def test_availability_per_outlet(app, client, town, shop):
    sign_in(client, town, "district_admin")
    resp = post(client, f"/outlets/{shop.a.id}/offer", {"offer": [str(shop.rice.id)], f"low-{shop.rice.id}": "8"})
    assert resp.status_code == 302
    with app.app_context(), db(app) as s:
        rows = {r.item_id: r for r in s.scalars(select(OutletItem).where(OutletItem.outlet_id == shop.a.id))}
    assert rows[shop.rice.id].available and rows[shop.rice.id].low_stock_at == 8
    assert not rows[shop.oil.id].available
    bad = post(client, f"/outlets/{shop.a.id}/offer", {"offer": [str(shop.rice.id)], f"low-{shop.rice.id}": "x"})
    assert bad.status_code == 422 and "whole number" in text(bad)
    for odd in ("²", "9" * 5000, "１２"):  # digits int() cannot read, or too many of them: a message, not a 500
        bad = post(client, f"/outlets/{shop.a.id}/offer", {"offer": [str(shop.rice.id)], f"low-{shop.rice.id}": odd})
        assert bad.status_code in (302, 422), odd


# --- catalogue import and export --------------------------------------------------------------------


def _xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HEAD = ["名称", "类别", "类型", "单位", "积分", "限兑数量", "限兑周期", "估值（元）", "说明", "在售", "供应网点"]


def _upload(client, content: bytes):
    return post(
        client,
        "/outlets/catalogue/import",
        {"file": (io.BytesIO(content), "catalogue.xlsx")},
        content_type="multipart/form-data",
    )


def test_import_with_bad_rows_lists_each_problem_and_writes_nothing(app, client, town, shop):
    sign_in(client, town, "district_admin")
    content = _xlsx(
        [
            HEAD,
            ["食用油 5L", "粮油", "商品", "桶", 90, 1, "每月", "69.90", "", "是", "全部"],
            ["挂面", "粮油", "商品", "包", "十二", "", "", "", "", "是", ""],
            ["", "粮油", "商品", "包", 5, "", "", "", "", "是", ""],
            ["毛巾", "日化", "服装", "条", 10, 3, "每季", "8", "", "是", "不存在的超市"],
        ]
    )
    resp = _upload(client, content)
    page = text(resp)
    assert resp.status_code == 422
    assert "Row 3" in page and "十二" in page
    assert "Row 4" in page and "empty" in page
    assert "Row 5" in page and "商品 or 服务" in page and "不存在的超市" in page
    assert "Row 2" not in page  # the good row has no problem
    with app.app_context(), db(app) as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.tenant_id == town.district.id)) == 3


def test_import_dry_run_then_all_rows(app, client, town, shop):
    sign_in(client, town, "district_admin")
    content = _xlsx(
        [
            HEAD,
            ["食用油 5L", "粮油", "商品", "桶", 90, 1, "每月", "69.90", "", "是", "全部"],
            ["大米 5kg", "粮油", "商品", "袋", 60, 2, "每月", "35", "", "是", "凤凰社区爱心超市"],
            ["理发服务", "便民服务", "服务", "次", 20, "", "", "", "", "是", ""],
        ]
    )
    check = _upload(client, content)
    page = text(check)
    assert check.status_code == 200, page[:3000]
    assert "add 2 items and change 1" in page
    with app.app_context(), db(app) as s:  # the dry run wrote nothing
        assert s.scalar(select(func.count()).select_from(Item).where(Item.tenant_id == town.district.id)) == 3
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)
    done = client.post(
        "/outlets/catalogue/import",
        data={"csrf_token": csrf_from(page), "token": token, "digest": digest, "confirm": "yes"},
    )
    assert done.status_code == 302, text(done)[:3000]
    with app.app_context(), db(app) as s:
        items = {i.name: i for i in s.scalars(select(Item).where(Item.tenant_id == town.district.id))}
        assert set(items) >= {"食用油 5L", "理发服务", "大米 5kg"}
        assert items["食用油 5L"].value_fen == 6990 and items["理发服务"].kind == "service"
        rice_prices = s.scalars(
            select(ItemPrice.points).where(ItemPrice.item_id == shop.rice.id).order_by(ItemPrice.version)
        ).all()
        assert rice_prices == [50, 60]
        oil_at = s.scalars(
            select(OutletItem.outlet_id).where(
                OutletItem.item_id == items["食用油 5L"].id, OutletItem.available.is_(True)
            )
        ).all()
        assert set(oil_at) == {shop.a.id, shop.b.id}
        rice_at = s.scalars(
            select(OutletItem.outlet_id).where(OutletItem.item_id == shop.rice.id, OutletItem.available.is_(True))
        ).all()
        assert rice_at == [shop.a.id]
    # The same token again does nothing (the stash is gone).
    again = client.post(
        "/outlets/catalogue/import",
        data={"csrf_token": csrf_from(page), "token": token, "digest": digest, "confirm": "yes"},
    )
    assert again.status_code == 422 and "expired" in text(again)


def test_export_reads_back_as_an_import(app, client, town, shop):
    sign_in(client, town, "district_admin")
    resp = client.get("/outlets/catalogue.xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "名称" and {r[0] for r in rows[1:]} == {"大米 5kg", "花生油 1.8L", "理发"}
    check = _upload(client, resp.data)
    assert check.status_code == 200 and "add 0 items and change 0" in text(check)


def test_not_a_spreadsheet_is_refused_with_a_message(client, town, shop):
    sign_in(client, town, "district_admin")
    resp = _upload(client, b"hello")
    assert resp.status_code == 422 and ".xlsx" in text(resp)


# --- stock ------------------------------------------------------------------------------------------


def test_staff_receive_a_donation_after_confirming(app, client, town, shop):
    sign_in_as(client, town, shop.people["staff_a"])
    url = f"/outlets/{shop.a.id}/stock/donation"
    form = {"donor": "光明爱心粮油有限公司", "value_yuan": "350", f"qty-{shop.rice.id}": "10", "key": "k-test-1"}
    review = post(client, url, form)
    assert review.status_code == 200 and "Check and confirm" in text(review)
    with app.app_context(), db(app) as s:
        assert shelf_now(s, town.district.id, shop.a.id)[(shop.a.id, shop.rice.id)] == 20  # not yet
    done = post(client, url, {**form, "confirm": "yes"})
    assert done.status_code == 302
    again = post(client, url, {**form, "confirm": "yes"})  # a double tap: the same key, once
    assert again.status_code == 302
    with app.app_context(), db(app) as s:
        assert shelf_now(s, town.district.id, shop.a.id)[(shop.a.id, shop.rice.id)] == 30
        m = s.scalar(select(StockMovement).where(StockMovement.key == "page:k-test-1"))
        assert m.donor == "光明爱心粮油有限公司" and m.estimated_value_fen == 35000
        assert sound(s, town.district.id) == []
    assert "光明爱心粮油有限公司" in text(client.get(f"/outlets/{shop.a.id}/stock"))


def test_bad_stock_input_says_what_to_fix(app, client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    url = f"/outlets/{shop.a.id}/stock/donation"
    resp = post(client, url, {"donor": "", f"qty-{shop.rice.id}": "5"})
    assert resp.status_code == 422 and "Name the donor" in text(resp)
    resp = post(client, url, {"donor": "X", f"qty-{shop.rice.id}": "-5"})
    assert resp.status_code == 422 and "whole number of pieces" in text(resp)
    resp = post(client, url, {"donor": "X"})
    assert resp.status_code == 422 and "at least one item" in text(resp)
    resp = post(
        client,
        f"/outlets/{shop.a.id}/stock/write_off",
        {"reason": "damaged", f"qty-{shop.rice.id}": "999", "confirm": "yes"},
    )
    assert resp.status_code == 422 and "only 20 on the shelf" in text(resp)
    resp = post(
        client,
        f"/outlets/{shop.a.id}/stock/transfer",
        {"to_outlet": "不存在", f"qty-{shop.rice.id}": "2", "confirm": "yes"},
    )
    assert resp.status_code == 422 and "No other open outlet" in text(resp)
    with app.app_context(), db(app) as s:
        assert (
            s.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.outlet_id == shop.a.id)) == 2
        )


def test_transfer_by_typed_outlet_name_and_write_off_with_reason(app, client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    resp = post(
        client,
        f"/outlets/{shop.a.id}/stock/transfer",
        {"to_outlet": "塘家", f"qty-{shop.rice.id}": "3", "confirm": "yes"},
    )
    assert resp.status_code == 302, text(resp)[:2000]
    resp = post(
        client,
        f"/outlets/{shop.a.id}/stock/write_off",
        {"reason": "expired", f"qty-{shop.oil.id}": "2", "confirm": "yes"},
    )
    assert resp.status_code == 302
    with app.app_context(), db(app) as s:
        shelf = shelf_now(s, town.district.id)
        assert shelf[(shop.a.id, shop.rice.id)] == 17 and shelf[(shop.b.id, shop.rice.id)] == 23
        assert shelf[(shop.a.id, shop.oil.id)] == 18
        assert sound(s, town.district.id) == []


def test_staff_cannot_write_off(client, town, shop):
    sign_in_as(client, town, shop.people["staff_a"])
    assert client.get(f"/outlets/{shop.a.id}/stock/write_off").status_code == 403


def test_supervisor_counts_stock_and_records_the_difference(app, client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    page = client.get(f"/outlets/{shop.a.id}/count")
    assert page.status_code == 200 and "大米 5kg" in text(page)
    assert f'name="counted-{shop.haircut.id}"' not in text(page)  # services have no stock
    resp = post(
        client, f"/outlets/{shop.a.id}/count", {f"counted-{shop.rice.id}": "18", f"counted-{shop.oil.id}": "20"}
    )
    assert resp.status_code == 302
    count_url = resp.headers["Location"]
    shown = text(client.get(count_url))
    assert "1 items differ" in shown and "-2" in shown
    assert "Count again" in shown
    staff = app.test_client()  # the outlet's staff see the count, but counting is the supervisor's
    sign_in_as(staff, town, shop.people["staff_a"])
    seen = staff.get(count_url)
    assert seen.status_code == 200 and "1 items differ" in text(seen) and "Count again" not in text(seen)
    assert staff.get(f"/outlets/{shop.a.id}/count").status_code == 403
    # No reason: refused, nothing moved.
    resp = post(client, count_url, {f"reason-{shop.rice.id}": ""})
    assert resp.status_code == 422 and "reason for each difference" in text(resp)
    resp = post(client, count_url, {f"reason-{shop.rice.id}": "破损未登记"})
    assert resp.status_code == 200 and "cannot be undone" in text(resp)
    with app.app_context(), db(app) as s:
        assert shelf_now(s, town.district.id, shop.a.id)[(shop.a.id, shop.rice.id)] == 20
    resp = post(client, count_url, {f"reason-{shop.rice.id}": "破损未登记", "confirm": "yes"})
    assert resp.status_code == 302
    with app.app_context(), db(app) as s:
        assert shelf_now(s, town.district.id, shop.a.id)[(shop.a.id, shop.rice.id)] == 18
        count = s.scalar(select(StockCount).where(StockCount.outlet_id == shop.a.id))
        assert count.status == "applied"
        assert sound(s, town.district.id) == []
    report = text(client.get(f"/outlets/{shop.a.id}/stock-report"))
    assert "账物相符" in report and "recorded" in report
    bad = post(client, f"/outlets/{shop.a.id}/count", {f"counted-{shop.rice.id}": "abc"})
    assert bad.status_code == 422 and "whole number" in text(bad)


def test_a_pending_difference_shows_as_not_reconciled(app, client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    post(client, f"/outlets/{shop.a.id}/count", {f"counted-{shop.rice.id}": "19"})
    report = text(client.get(f"/outlets/{shop.a.id}/stock-report"))
    assert "账物不符" in report
    sign_in(client, town, "district_admin")
    page = text(client.get("/outlets/reconciliation"))
    assert "1 of 2 outlets match" in page or "0 of 2 outlets match" in page
    assert "No: a difference is not recorded" in page


def test_cancelling_a_count_asks_first(app, client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    count_url = post(client, f"/outlets/{shop.a.id}/count", {f"counted-{shop.rice.id}": "19"}).headers["Location"]
    # The supervisor's home page says a count waits for them (with a link); staff are not asked.
    home = text(client.get("/"))
    assert "A stock count waits for you" in home and count_url.split("http://localhost")[-1] in home
    staff = app.test_client()
    sign_in_as(staff, town, shop.people["staff_a"])
    assert "A stock count waits for you" not in text(staff.get("/"))
    question = post(client, count_url, {"cancel": "yes"})
    assert question.status_code == 200 and "Cancel the count of" in text(question)
    assert 'name="cancel" value="yes"' in text(question)
    with app.app_context(), db(app) as s:
        assert s.scalar(select(StockCount.status).where(StockCount.outlet_id == shop.a.id)) == "pending"
    assert post(client, count_url, {"cancel": "yes", "confirm": "yes"}).status_code == 302
    with app.app_context(), db(app) as s:
        assert s.scalar(select(StockCount.status).where(StockCount.outlet_id == shop.a.id)) == "cancelled"
        assert shelf_now(s, town.district.id, shop.a.id)[(shop.a.id, shop.rice.id)] == 20  # nothing moved


def test_staff_of_another_outlet_cannot_see_a_count(app, client, town, shop):
    sign_in_as(client, town, shop.people["supervisor_a"])
    resp = post(client, f"/outlets/{shop.a.id}/count", {f"counted-{shop.rice.id}": "19"})
    count_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    client.get("/signout")
    sign_in_as(client, town, shop.people["supervisor_b"])
    assert client.get(f"/outlets/{shop.b.id}/counts/{count_id}").status_code == 404
    assert client.get(f"/outlets/{shop.a.id}/counts/{count_id}").status_code == 404


# --- district view ----------------------------------------------------------------------------------


def test_district_view_with_charts_and_xlsx(client, town, shop):
    sign_in(client, town, "district_admin")
    page = client.get("/outlets/district")
    body = text(page)
    assert page.status_code == 200 and "凤凰社区爱心超市" in body and "塘家社区爱心超市" in body
    assert 'id="outlets-chart-data"' in body and "chart.umd.min.js" in body
    x = client.get("/outlets/district.xlsx?from=2026-01-01&to=2026-12-31")
    assert x.status_code == 200
    # A year-1 date in the address (typed, or a fuzzer's) falls back to this month: no 500.
    for url in ("/outlets/district?from=0001-01-01&to=0001-01-01", f"/outlets/{shop.a.id}/stock-report?at=0001-01-02"):
        with client.get(url) as r:
            assert r.status_code == 200, url
    with client.get("/outlets/district.xlsx?from=0001-01-01&to=0001-01-01") as r:
        assert r.status_code == 200
    wb = load_workbook(io.BytesIO(x.data))
    names = [r[0] for r in wb.worksheets[0].iter_rows(min_row=3, values_only=True)]
    assert set(names) == {"凤凰社区爱心超市", "塘家社区爱心超市"}


def test_district_view_is_scoped(client, town, shop):
    sign_in_as(client, town, shop.people["staff_b"])
    body = text(client.get("/outlets/district"))
    assert "塘家社区爱心超市" in body and "凤凰社区爱心超市" not in body


def test_volunteer_sees_no_outlet_pages(client, town, shop):
    sign_in(client, town, "volunteer")
    assert client.get("/outlets/").status_code == 403
    assert client.get(f"/outlets/{shop.a.id}").status_code == 404
    assert client.get("/outlets/district").status_code == 403
