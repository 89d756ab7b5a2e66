"""爱心超市 in the demo district (issue 10): 38 outlets (one per community, one per street office, and a
second shop in 公明社区), a catalogue of 60 real goods and services, stock from donations (爱心企业) and
purchases, a month of redemptions by members who earned points, stock counts that matched, one count
waiting with a difference, and the outlet staff and supervisor sign-ins at 凤凰社区爱心超市.

Everything goes through the outlets area's services (create_outlet, create_item, set_availability,
receive, redeem with a member QR token made at the redemption's time, record_count, apply_count), so
the ledger, the goods accounts, the audit log and the points lots are the real ones."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.errors import AppError
from app.outlets import catalogue, redemption, stock
from app.outlets import outlets as outlet_services
from app.outlets.labels import DONATION, PURCHASE
from app.outlets.models import Outlet
from app.people.models import Member
from app.places.models import OrgUnit
from app.points.accounts import wallet_code
from app.times import to_beijing, to_utc
from app.tokens import make_token
from ledger.schema import accounts

from .outlet_catalogue import DONORS, ITEMS, SUPPLIERS

HOME_OUTLET = "凤凰社区爱心超市"  # where the staff and supervisor sign-ins work
SECOND_SHOP = ("公明社区", "公明社区爱心超市（公明广场店）")
OPENING_HOURS = (
    "周二至周日 9:00–12:00，14:30–17:30（周一闭店盘点）",
    "周一至周五 9:00–18:00，周六 9:00–12:00",
    "每周二、四、六 9:00–17:00",
)
DAYS = 30  # a month of redemptions
REDEMPTIONS = 320
STAPLES = ("大米 5kg", "食用油 5L", "洗衣液 2kg", "卷纸 10卷", "鸡蛋 30枚", "理发服务")
OUTLET_ROLES = ("outlet_staff", "outlet_supervisor")


@dataclass
class Outlets:
    """What was made, for the printed summary and the tests."""

    outlets: int = 0
    items: int = 0
    receipts: int = 0
    redemptions: int = 0
    points: int = 0
    counts: int = 0
    pending_count_outlet: str = ""
    pending_item: str = ""
    staff: list[tuple[str, str]] = field(default_factory=list)  # (label, name)


def _user_id(session: Session, member: Member) -> int:
    uid = session.scalar(select(User.id).where(User.member_id == member.id))
    assert uid is not None  # the demo sign-ins all have a user
    return uid


def _at(day_offset: int, rng: random.Random, now: datetime) -> datetime:
    """A time during opening hours `day_offset` days before today (Beijing), never in the future."""
    day = to_beijing(now).date() - timedelta(days=day_offset)
    local = datetime.combine(day, time(9, 0)) + timedelta(minutes=rng.randrange(8 * 60))
    return min(to_utc(local), now - timedelta(minutes=1))


def load_outlets(
    session: Session, tenant_id: int, members: list[Member], sign_ins: dict[str, Member], seed: int
) -> Outlets:
    rng = random.Random(seed + 10)
    now = utcnow()
    made = Outlets()
    admin = _user_id(session, sign_ins["district_admin"])

    # Outlets: every community and street office runs one; 公明社区 has a second shop.
    units = list(session.scalars(select(OrgUnit).where(OrgUnit.tenant_id == tenant_id).order_by(OrgUnit.id)))
    by_name = {u.name: u for u in units}
    parent_name = {u.id: u.name for u in units}
    outlets: list[Outlet] = []
    for u in units:
        if u.kind not in ("street", "community"):
            continue
        street = u.name if u.kind == "street" else parent_name.get(u.parent_id or 0, "")
        name = f"{u.name}爱心超市" if u.kind == "community" else f"{u.name}爱心超市（街道中心店）"
        where = f"{street}{u.name}党群服务中心一楼" if u.kind == "community" else f"{u.name}办事处便民服务大厅旁"
        outlets.append(
            outlet_services.create_outlet(session, tenant_id, admin, u, name, where, rng.choice(OPENING_HOURS))
        )
    unit, name = SECOND_SHOP
    outlets.append(
        outlet_services.create_outlet(
            session, tenant_id, admin, by_name[unit], name, "公明广场东侧商铺12号", OPENING_HOURS[1]
        )
    )
    made.outlets = len(outlets)

    # The catalogue, priced a month ago (so the month's redemptions are at these prices).
    start = now - timedelta(days=DAYS + 5)
    items = {}
    for item_name, category, kind, unit_name, points, yuan, limit in ITEMS:
        items[item_name] = catalogue.create_item(
            session,
            tenant_id,
            admin,
            name=item_name,
            points=points,
            category=category,
            kind=kind,
            unit_name=unit_name,
            limit_qty=limit[0] if limit else None,
            limit_period=limit[1] if limit else None,
            value_fen=round(yuan * 100),
            now=start,
        )
    made.items = len(items)
    price = {items[row[0]].id: row[4] for row in ITEMS}
    by_id = {i.id: i for i in items.values()}

    # What each outlet offers: the staples, and a share of the rest (street shops offer more).
    offered: dict[int, list] = {}
    for o in outlets:
        share = 0.7 if "街道" in o.name else 0.4
        chosen = [i for n, i in items.items() if n in STAPLES or rng.random() < share]
        for item in chosen:
            catalogue.set_availability(session, o, item, available=True, low_stock_at=rng.choice((3, 5, 5, 10)))
        offered[o.id] = chosen

    # Stock: a donation from an 爱心企业 and a purchase for each outlet, a month ago.
    for n, o in enumerate(outlets):
        goods = [i for i in offered[o.id] if i.kind == "goods"]
        donated = rng.sample(goods, k=max(1, len(goods) * 2 // 3))
        lines = [(i.id, rng.randint(15, 60)) for i in donated]
        stock.receive(
            session,
            o,
            admin,
            DONATION,
            lines,
            donor=DONORS[n % len(DONORS)],
            estimated_value_fen=sum(q * (i.value_fen or 0) for (iid, q), i in zip(lines, donated, strict=True)),
            note="年度爱心捐赠",
            key=f"demo:donation:{o.id}",
            now=start,
        )
        bought = [(i.id, rng.randint(10, 40)) for i in goods if i not in donated or i.name in STAPLES]
        if bought:
            stock.receive(
                session,
                o,
                admin,
                PURCHASE,
                bought,
                supplier=rng.choice(SUPPLIERS),
                estimated_value_fen=sum(q * (by_id[iid].value_fen or 0) for iid, q in bought),
                key=f"demo:purchase:{o.id}",
                now=start + timedelta(hours=2),
            )
        made.receipts += 1 + bool(bought)

    # A month of redemptions by members with points (their QR code made at the time, as if scanned).
    balances = dict(
        session.execute(
            select(
                accounts.c.code, accounts.c.credits_posted - accounts.c.debits_posted - accounts.c.debits_pending
            ).where(accounts.c.tenant_id == tenant_id, accounts.c.code.like("member:%"))
        ).all()
    )
    rich = [m for m in members if m.status == "active" and balances.get(wallet_code(m.id), 0) >= 20]
    rng.shuffle(rich)
    home = next(o for o in outlets if o.name == HOME_OUTLET)
    staff_user = admin
    used_at: set[tuple[int, int]] = set()
    attempts = 0
    while made.redemptions < REDEMPTIONS and rich and attempts < REDEMPTIONS * 3:
        attempts += 1
        member = rich[attempts % len(rich)]
        left = balances.get(wallet_code(member.id), 0)
        o = home if rng.random() < 0.15 else rng.choice(outlets)
        pick = [i for i in offered[o.id] if price[i.id] <= left]
        if not pick:
            continue
        cart, total = [], 0
        for item in rng.sample(pick, k=min(len(pick), rng.choice((1, 1, 2, 2, 3)))):
            cost = price[item.id]
            if total + cost <= left:
                cart.append((item.id, 1))
                total += cost
        day = rng.randrange(DAYS)
        if not cart or (member.id, day) in used_at:
            continue
        at = _at(day, rng, now)
        token = make_token("member", tenant_id, member.id, now=at)
        try:
            with session.begin_nested():
                r = redemption.redeem(
                    session, o, staff_user, cart, f"demo:redeem:{member.id}:{day}", member_token=token, now=at
                )
        except AppError:
            continue  # out of stock or a limit reached: the counter would have said so
        used_at.add((member.id, day))
        balances[wallet_code(member.id)] = left - r.total_points
        made.redemptions += 1
        made.points += r.total_points

    # Stock counts: most outlets counted last week and matched; one count waits with a difference.
    counted_at = now - timedelta(days=7)
    for o in outlets[::3]:
        if o.id == home.id:
            continue
        books = stock.book_stock(session, tenant_id, o.id, [i.id for i in offered[o.id] if i.kind == "goods"])
        c = stock.record_count(session, o, admin, sorted(books.items()), note="月度盘点", now=counted_at)
        stock.apply_count(session, c, admin, now=counted_at + timedelta(hours=1))
        made.counts += 1
    goods = [i for i in offered[home.id] if i.kind == "goods"]
    books = stock.book_stock(session, tenant_id, home.id, [i.id for i in goods])
    rice = items["大米 5kg"]
    counted = [(iid, q - 1 if iid == rice.id and q > 0 else q) for iid, q in sorted(books.items())]
    stock.record_count(
        session,
        home,
        admin,
        counted,
        reasons={rice.id: "货架上少一袋，待核查监控"},
        note="周一闭店盘点",
        now=now - timedelta(hours=20),
    )
    made.counts += 1
    made.pending_count_outlet, made.pending_item = home.name, rice.name

    # The outlet sign-ins work at 凤凰社区爱心超市.
    for label in OUTLET_ROLES:
        worker = sign_ins.get(label)
        if worker is not None:
            outlet_services.grant_outlet_role(session, None, home, worker, label)
            made.staff.append((label, worker.name))
    session.flush()
    return made


def summary_lines(made: Outlets) -> list[str]:
    return [
        f"Outlets: {made.outlets} 爱心超市 with a catalogue of {made.items} goods and services, "
        f"{made.receipts} stock receipts (donations and purchases), {made.redemptions} redemptions in the "
        f"last {DAYS} days ({made.points} points), {made.counts} stock counts; a count at "
        f"{made.pending_count_outlet} waits for its supervisor ({made.pending_item} is one short).",
    ]


def read_back(session: Session, tenant_id: int) -> list[str]:
    n = len(session.scalars(select(Outlet.id).where(Outlet.tenant_id == tenant_id)).all())
    return [f"Outlets: {n} 爱心超市."] if n else []
