"""A small 爱心超市 for the counter's tests: two outlets of the test town, a few items with stock, staff
and a supervisor at the first outlet, staff at the second, and a volunteer with points."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db import unit_of_work
from app.outlets import OUTLET_STAFF, OUTLET_SUPERVISOR, catalogue, outlets, stock
from app.points.accounts import open_source, open_wallets, wallet_code
from ledger import Ledger, Transfer
from tests.factories import PASSWORD, make_user


@dataclass
class Shop:
    outlet_a: int
    outlet_b: int
    items: dict[str, int]  # name -> id
    users: dict = field(default_factory=dict)  # role -> (member, mobile, password)


def give_points(s, tenant_id: int, member_id: int, points: int) -> None:
    open_wallets(s, tenant_id, [member_id])
    open_source(s, tenant_id, "source:test")
    Ledger(s, tenant=tenant_id).post([Transfer("source:test", wallet_code(member_id), points)], kind="test")


def make_shop(app, town, points: int = 200) -> Shop:
    """Outlet A (凤凰社区爱心超市) with 大米 5kg (50, 2 per month, 10 on the shelf), 食用油 (30, 3 on the
    shelf), 洗衣液 (20, none on the shelf) and 理发 (a service, 15); outlet B with 大米 only."""
    tenant = town.district.id
    with app.app_context(), app.test_request_context(), unit_of_work(app.extensions["db_sessionmaker"]) as s:
        a = outlets.create_outlet(
            s, tenant, None, s.merge(town.community_a), "凤凰社区爱心超市", "凤凰路1号", "周六 9:00-17:00"
        )
        b = outlets.create_outlet(s, tenant, None, s.merge(town.community_b), "塘家社区爱心超市")
        rice = catalogue.create_item(
            s,
            tenant,
            None,
            name="大米 5kg",
            points=50,
            category="粮油",
            unit_name="袋",
            limit_qty=2,
            limit_period="month",
        )
        oil = catalogue.create_item(s, tenant, None, name="食用油 1.8L", points=30, category="粮油", unit_name="瓶")
        soap = catalogue.create_item(s, tenant, None, name="洗衣液", points=20, category="日用品", unit_name="瓶")
        haircut = catalogue.create_item(s, tenant, None, name="理发", points=15, category="服务", kind="service")
        for item in (rice, oil, soap, haircut):
            catalogue.set_availability(s, a, item)
        catalogue.set_availability(s, b, rice)
        stock.receive(s, a, None, "donation", [(rice.id, 10), (oil.id, 3)], donor="爱心企业甲")
        stock.receive(s, b, None, "purchase", [(rice.id, 5)], supplier="粮油店")
        shop = Shop(a.id, b.id, {"rice": rice.id, "oil": oil.id, "soap": soap.id, "haircut": haircut.id})
        for role, name, outlet, kind in (
            ("staff", "孙丽", a, OUTLET_STAFF),
            ("supervisor", "周强", a, OUTLET_SUPERVISOR),
            ("staff_b", "吴刚", b, OUTLET_STAFF),
        ):
            m = make_user(s, tenant, s.merge(town.grid_a1), name)
            outlets.grant_outlet_role(s, None, outlet, m, kind)
            shop.users[role] = (m, m.mobile, PASSWORD)
        give_points(s, tenant, town.users["volunteer"][0].id, points)
    return shop
