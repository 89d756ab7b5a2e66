"""Grid reports in the demo district (issue 11): residents' reports of problems in the grids of 塘家社区
(where the community's demo grid admin works) over the last two months, in every state — verified (with
points credited by the points area), not accepted with a reason, duplicates of an earlier report, and
waiting, some of them overdue — a few with photos, and the demo volunteer's own reports to follow.

Everything goes through the services (submit_report with the time it was made, verify/reject/
mark_duplicate by the grid admin a day or two later), so the ledger, the audit log and the notices are
the real ones. Choices come from a seeded random; photos are drawn with Pillow (no files are shipped)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from io import BytesIO

from flask import current_app, has_app_context
from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import starts_with, utcnow
from app.gridreports import services as reports
from app.gridreports.labels import CATEGORIES, DUPLICATE, REJECTED, SUBMITTED, VERIFIED
from app.gridreports.models import GridReport
from app.people.models import Member
from app.places.models import OrgUnit
from app.times import to_beijing, to_utc

COMMUNITY = "塘家社区"
DAYS = 60
TEXTS = {
    "hazard": ["楼道堆放杂物，堵住消防通道", "电动车在楼道内充电", "小区门口井盖松动", "工地围挡倾斜，存在倒塌风险"],
    "environment": ["垃圾桶满溢无人清运", "河道漂浮垃圾较多", "绿化带被占用堆放建筑垃圾", "夜间施工噪音扰民"],
    "dispute": ["楼上漏水与邻居协商不成", "停车位被长期占用引发争执", "宠物狗扰民邻里矛盾"],
    "facility": ["路灯不亮已有一周", "健身器材损坏", "小区监控摄像头故障", "人行道地砖破损"],
    "other": ["公告栏信息过期未更新", "流浪猫聚集需要处理"],
}
REJECT_REASONS = ["现场核实未发现问题", "不属于网格事项，已告知拨打12345", "已于上报前处理完毕"]
COLOURS = [(192, 57, 43), (44, 123, 229), (39, 174, 96), (142, 68, 173), (230, 126, 34)]


@dataclass
class Made:
    reports: int = 0
    by_status: dict | None = None
    overdue: int = 0
    photos: int = 0
    volunteer_reports: int = 0


def _photo(rng: random.Random) -> bytes:
    """A stand-in photo: a coloured scene with a marked spot, 1200×900."""
    img = Image.new("RGB", (1200, 900), rng.choice(COLOURS))
    draw = ImageDraw.Draw(img)
    x, y = rng.randrange(100, 900), rng.randrange(100, 600)
    draw.rectangle([x, y, x + 260, y + 200], outline=(255, 255, 255), width=12)
    draw.line([0, 700, 1200, 640], fill=(80, 80, 80), width=40)
    out = BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _upload_dir() -> str | None:
    if not has_app_context():
        return None
    return current_app.config.get("UPLOAD_DIR") or os.path.join(current_app.instance_path, "uploads")


def _at(rng: random.Random, days_ago: int, now: datetime) -> datetime:
    day = to_beijing(now).date() - timedelta(days=days_ago)
    at = to_utc(datetime.combine(day, time(7, 30)) + timedelta(minutes=rng.randrange(13 * 60)))
    return min(at, now - timedelta(minutes=30))


def load_gridreports(session: Session, tenant_id: int, members: list[Member], sign_ins: dict[str, Member], seed: int):
    """Grid reports for the freshly loaded district (in the caller's transaction)."""
    rng = random.Random(seed + 11)
    now = utcnow()
    made = Made(by_status=dict.fromkeys((SUBMITTED, VERIFIED, REJECTED, DUPLICATE), 0))
    community = session.scalar(
        select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.kind == "community", OrgUnit.name == COMMUNITY)
    )
    if community is None:
        return made
    grids = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.tenant_id == tenant_id, OrgUnit.kind == "grid", starts_with(OrgUnit.path, community.path))
            .order_by(OrgUnit.path)
        )
    )
    if not grids:
        return made
    grid_ids = {g.id for g in grids}
    admin = sign_ins.get("grid_admin (community)")
    admin_user = session.scalar(select(User.id).where(User.member_id == admin.id)) if admin is not None else None
    volunteer = sign_ins.get("volunteer")
    residents = [m for m in members if m.grid_id in grid_ids and m.status == "active"] or members[:50]
    upload_dir = _upload_dir()

    def one(member: Member, days_ago: int, grid: OrgUnit, photos: int = 0) -> GridReport:
        category = rng.choice(CATEGORIES)
        shots = [_photo(rng) for _ in range(photos)] if upload_dir else []
        located = rng.random() < 0.7
        lat = round(22.74 + rng.random() * 0.06, 6) if located else None
        lng = round(113.90 + rng.random() * 0.06, 6) if located else None
        report = reports.submit_report(
            session,
            member,
            category=category,
            text=rng.choice(TEXTS[category]),
            grid=grid,
            lat=lat,
            lng=lng,
            photos=shots,
            upload_dir=upload_dir,
            now=_at(rng, days_ago, now),
        )
        made.reports += 1
        made.photos += len(shots)
        return report

    def decide(report: GridReport, outcome: str, earlier: list[GridReport]) -> None:
        at = report.created_at + timedelta(hours=rng.randrange(2, 40))
        at = min(at, now - timedelta(minutes=5))
        if outcome == VERIFIED:
            reports.verify_report(session, report, admin_user, now=at)
        elif outcome == REJECTED:
            reports.reject_report(session, report, admin_user, rng.choice(REJECT_REASONS), now=at)
        else:
            same = [r for r in earlier if r.grid_id == report.grid_id and r.status != REJECTED] or [
                r for r in earlier if r.status != REJECTED
            ]
            if not same:
                reports.verify_report(session, report, admin_user, now=at)
                outcome = VERIFIED
            else:
                reports.mark_duplicate(session, report, admin_user, same[-1], "同一问题已有上报", now=at)
        made.by_status[outcome] += 1  # type: ignore[index]

    # Residents' reports, oldest first; the older ones were triaged, the last days' wait (some overdue).
    made_so_far: list[GridReport] = []
    for i in range(36):
        days_ago = DAYS - i * DAYS // 36
        grid = rng.choice(grids)
        report = one(rng.choice(residents), days_ago, grid, photos=1 if i % 4 == 0 else 0)
        if days_ago > 8:
            outcome = rng.choices([VERIFIED, REJECTED, DUPLICATE], weights=[6, 2, 1])[0]
            decide(report, outcome, made_so_far)
        else:
            made.by_status[SUBMITTED] += 1  # type: ignore[index]
        made_so_far.append(report)
    # Waiting ones in the last week: two overdue (older than the 3-day triage period), two fresh.
    for days_ago in (6, 5, 1, 0):
        one(rng.choice(residents), days_ago, rng.choice(grids), photos=1)
        made.by_status[SUBMITTED] += 1  # type: ignore[index]

    # The demo volunteer's own reports to follow: verified (points), not accepted, a duplicate, waiting.
    if volunteer is not None:
        first = one(volunteer, 20, grids[0], photos=2)
        decide(first, VERIFIED, made_so_far)
        second = one(volunteer, 15, grids[0])
        later = second.created_at + timedelta(hours=5)
        reports.reject_report(session, second, admin_user, REJECT_REASONS[0], now=later)
        made.by_status[REJECTED] += 1  # type: ignore[index]
        third = one(volunteer, 10, grids[0])
        later = third.created_at + timedelta(hours=3)
        reports.mark_duplicate(session, third, admin_user, first, "同一问题已有上报", now=later)
        made.by_status[DUPLICATE] += 1  # type: ignore[index]
        one(volunteer, 1, grids[-1], photos=1)
        made.by_status[SUBMITTED] += 1  # type: ignore[index]
        made.volunteer_reports = 4
    session.flush()
    cutoff = reports.overdue_before(session, tenant_id, now)
    made.overdue = (
        session.scalar(
            select(func.count()).where(
                GridReport.tenant_id == tenant_id, GridReport.status == SUBMITTED, GridReport.created_at < cutoff
            )
        )
        or 0
    )
    return made


def summary_lines(made: Made) -> list[str]:
    s = made.by_status or {}
    return [
        f"Grid reports in {COMMUNITY}: {made.reports} ({s.get(VERIFIED, 0)} verified, "
        f"{s.get(REJECTED, 0)} not accepted, "
        f"{s.get(DUPLICATE, 0)} duplicates, {s.get(SUBMITTED, 0)} waiting of which {made.overdue} overdue; "
        f"{made.photos} photos); the volunteer made {made.volunteer_reports} of them",
    ]


def read_back(session: Session, tenant_id: int) -> list[str]:
    """The summary of a district loaded before (nothing is written)."""
    made = Made(by_status=dict.fromkeys((SUBMITTED, VERIFIED, REJECTED, DUPLICATE), 0))
    for status, n in session.execute(
        select(GridReport.status, func.count()).where(GridReport.tenant_id == tenant_id).group_by(GridReport.status)
    ):
        made.by_status[status] = n  # type: ignore[index]
        made.reports += n
    if not made.reports:
        return []
    cutoff = reports.overdue_before(session, tenant_id)
    made.overdue = (
        session.scalar(
            select(func.count()).where(
                GridReport.tenant_id == tenant_id, GridReport.status == SUBMITTED, GridReport.created_at < cutoff
            )
        )
        or 0
    )
    return summary_lines(made)
