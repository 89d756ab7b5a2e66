"""Building blocks for outlet tests (core, counter and page tests alike): outlets with staff, items
with prices and stock, members with points. Everything goes through the real services; only the
points a member starts with are posted straight into the ledger from a test source."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.auth import services as auth
from app.outlets import OUTLET_STAFF, OUTLET_SUPERVISOR, catalogue, stock
from app.outlets import outlets as outlet_services
from app.outlets.checks import verify_stock
from app.outlets.labels import DONATION
from app.points.accounts import open_source, wallet_code
from ledger import Ledger, Transfer
from tests.factories import PASSWORD, make_member, make_user

TEST_SOURCE = "source:test"


def give_points(s, tenant: int, member_id: int, points: int, key: str | None = None) -> None:
    open_source(s, tenant, TEST_SOURCE)
    Ledger(s, tenant=tenant).post([Transfer(TEST_SOURCE, wallet_code(member_id), points)], kind="test", key=key)


def make_outlet(s, town, name: str = "凤凰社区爱心超市", unit=None):
    return outlet_services.create_outlet(
        s, town.district.id, None, unit or town.community_a, name, address="凤凰路1号", opening_hours="周六 9:00-17:00"
    )


def make_staff(s, town, outlet, name: str, role: str = OUTLET_STAFF):
    """A member who signs in (password PASSWORD) and holds `role` at `outlet` only."""
    member = make_user(s, town.district.id, town.grid_a1, name)
    outlet_services.grant_outlet_role(s, None, outlet, member, role)
    return member


def make_item(s, tenant: int, name: str, points: int, **kw):
    return catalogue.create_item(s, tenant, None, name=name, points=points, unit_name=kw.pop("unit_name", "袋"), **kw)


def stock_up(s, outlet, item, qty: int, *, offer: bool = True, donor: str = "光明爱心企业"):
    if offer:
        catalogue.set_availability(s, outlet, item)
    if qty:
        stock.receive(s, outlet, None, DONATION, [(item.id, qty)], donor=donor)


def sound(s, tenant: int) -> list[str]:
    """Everything the ledger and the stock check find wrong (expect [])."""
    return Ledger(s, tenant=tenant).verify() + verify_stock(s, tenant)


@dataclass
class Shop:
    """A town with two outlets (A in community A, B in community B), staff and a supervisor at each,
    a catalogue of rice (goods, limit 2 a month), oil (goods) and a haircut (service)."""

    town: object
    a: object
    b: object
    rice: object
    oil: object
    haircut: object
    people: dict = field(default_factory=dict)

    @property
    def tenant(self) -> int:
        return self.town.district.id


def make_shop(s, town, rice_stock: int = 20, oil_stock: int = 20) -> Shop:
    t = town.district.id
    a = make_outlet(s, town, "凤凰社区爱心超市", town.community_a)
    b = make_outlet(s, town, "塘家社区爱心超市", town.community_b)
    rice = make_item(s, t, "大米 5kg", 50, category="粮油", limit_qty=2, limit_period="month", value_fen=3500)
    oil = make_item(s, t, "花生油 1.8L", 40, category="粮油", unit_name="瓶", value_fen=3000)
    haircut = make_item(s, t, "理发", 10, category="服务", kind="service", unit_name="次")
    for outlet in (a, b):
        stock_up(s, outlet, rice, rice_stock)
        stock_up(s, outlet, oil, oil_stock)
        stock_up(s, outlet, haircut, 0)
    shop = Shop(town, a, b, rice, oil, haircut)
    shop.people = {
        "staff_a": make_staff(s, town, a, "孙丽"),
        "supervisor_a": make_staff(s, town, a, "周杰", OUTLET_SUPERVISOR),
        "staff_b": make_staff(s, town, b, "吴刚"),
        "supervisor_b": make_staff(s, town, b, "郑爽", OUTLET_SUPERVISOR),
    }
    s.flush()
    return shop


def member_with_points(s, town, points: int, name: str = "张伟"):
    m = make_member(s, town.district.id, town.grid_a1, name=name)
    if points:
        give_points(s, town.district.id, m.id, points)
    return m


__all__ = [
    "PASSWORD",
    "Shop",
    "auth",
    "give_points",
    "make_item",
    "make_outlet",
    "make_shop",
    "make_staff",
    "member_with_points",
    "sound",
    "stock_up",
]
