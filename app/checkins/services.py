"""Check-in use cases: sites (create, list, read a site's code), a party member's check-in (once a day
per site, radius, points by the check-in rule within the monthly cap — posted by app/points), and
household visits (log against a grid the member is responsible for; the grid admin confirms or
rejects). Services take plain values and the actor, flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, bindparam, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from app.audit.services import record
from app.db import FixedStatement, utcnow
from app.errors import NotFound
from app.geo import distance_m
from app.people.labels import ACTIVE
from app.people.models import GridAssignment, Member
from app.places.models import OrgUnit
from app.points.checkin_rules import DEFAULT_CHECKIN_RULE, CheckinPricing, CheckinRule
from app.points.checkins import credit_checkin
from app.times import to_beijing
from app.tokens import TokenMalformed, check_token

from . import errors
from .labels import CODE, CONFIRMED, POSTER, REJECTED, SUBMITTED
from .models import CheckinSite, HouseholdVisit, PartyCheckin

TOKEN_KINDS = {"SP": ("site_poster", POSTER), "S": ("checkin_site", CODE)}


# --- sites -----------------------------------------------------------------------------------------------


def create_site(
    session: Session,
    tenant_id: int,
    actor_user_id: int | None,
    unit: OrgUnit,
    name: str,
    lat: float | None = None,
    lng: float | None = None,
    radius_m: int | None = None,
) -> CheckinSite:
    """A check-in site for a community or a 片区网格 (one per unit)."""
    name = (name or "").strip() or unit.name
    if unit.tenant_id != tenant_id or not unit.active:
        raise NotFound(str(_l("No such place.")))
    if not (unit.kind == "community" or (unit.kind == "grid" and unit.grid_type == "area")):
        raise errors.SiteInvalid(str(_l("A check-in site belongs to a community or an area grid (片区网格).")), "unit")
    _check_place(name, lat, lng, radius_m)
    if session.scalar(select(CheckinSite.id).where(CheckinSite.org_unit_id == unit.id)) is not None:
        raise errors.SiteExists(str(_l("%(unit)s already has a check-in site.", unit=unit.name)), "unit")
    site = CheckinSite(
        tenant_id=tenant_id,
        org_unit_id=unit.id,
        org_unit=unit,
        name=name,
        lat=lat,
        lng=lng,
        radius_m=radius_m,
        active=True,
        created_by_user_id=actor_user_id,
        created_at=utcnow(),
    )
    session.add(site)
    session.flush()
    record(
        session,
        "checkin.site_create",
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        target_type="checkin_site",
        target_id=site.id,
        detail={"unit_id": unit.id, "name": name, "radius_m": radius_m},
    )
    return site


def _check_place(name: str, lat: float | None, lng: float | None, radius_m: int | None) -> None:
    if len(name) > 100:
        raise errors.SiteInvalid(str(_l("The name may have at most 100 characters.")), "name")
    if (lat is None) != (lng is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180)):  # type: ignore[operator]
        raise errors.SiteInvalid(str(_l("Give both latitude and longitude, or neither.")), "lat")
    if radius_m is not None:
        if lat is None:
            raise errors.SiteInvalid(str(_l("A radius needs the site's latitude and longitude.")), "radius_m")
        if not 10 <= radius_m <= 5000:
            raise errors.SiteInvalid(str(_l("The radius must be from 10 to 5000 metres.")), "radius_m")


def _site_facts(site: CheckinSite) -> dict:
    return {"name": site.name, "lat": site.lat, "lng": site.lng, "radius_m": site.radius_m}


def update_site(
    session: Session,
    site: CheckinSite,
    actor_user_id: int | None,
    name: str,
    lat: float | None = None,
    lng: float | None = None,
    radius_m: int | None = None,
) -> CheckinSite:
    """Change a site's name, place and radius (its unit never changes: a site belongs to its unit).
    Audited with what it was and what it is now. Posters already printed keep working."""
    name = (name or "").strip() or site.org_unit.name
    _check_place(name, lat, lng, radius_m)
    before = _site_facts(site)
    site.name, site.lat, site.lng, site.radius_m = name, lat, lng, radius_m
    after = _site_facts(site)
    if after == before:
        return site
    session.flush()
    record(
        session,
        "checkin.site_update",
        tenant_id=site.tenant_id,
        actor_user_id=actor_user_id,
        target_type="checkin_site",
        target_id=site.id,
        detail={"before": before, "after": after},
    )
    return site


def close_site(session: Session, site: CheckinSite, actor_user_id: int | None, reason: str) -> CheckinSite:
    """Close a site: its poster and code are refused from now on, with a message saying so. Check-ins
    already recorded and their points stay. Audited with the reason; a closed site can be reopened."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise errors.SiteInvalid(str(_l("Say why the site closes; it is kept in the audit log.")), "reason")
    if len(reason) > 200:
        raise errors.SiteInvalid(str(_l("The reason may have at most 200 characters.")), "reason")
    if not site.active:
        raise errors.SiteClosed(str(_l("%(site)s is already closed.", site=site.name)))
    site.active = False
    session.flush()
    record(
        session,
        "checkin.site_close",
        tenant_id=site.tenant_id,
        actor_user_id=actor_user_id,
        target_type="checkin_site",
        target_id=site.id,
        detail={"name": site.name, "reason": reason},
    )
    return site


def reopen_site(session: Session, site: CheckinSite, actor_user_id: int | None) -> CheckinSite:
    """Open a closed site again (audited): its poster and code work again."""
    if site.active:
        return site
    site.active = True
    session.flush()
    record(
        session,
        "checkin.site_reopen",
        tenant_id=site.tenant_id,
        actor_user_id=actor_user_id,
        target_type="checkin_site",
        target_id=site.id,
        detail={"name": site.name},
    )
    return site


def closed_message(site: CheckinSite | ScannedSite) -> str:
    return str(
        _l(
            "%(site)s is closed: check-ins are no longer recorded here. Check in at another open site, or ask "
            "your community.",
            site=site.name,
        )
    )


def get_site(session: Session, tenant_id: int, site_id: int) -> CheckinSite:
    site = session.scalars(
        select(CheckinSite).options(joinedload(CheckinSite.org_unit)).where(CheckinSite.id == site_id)
    ).first()
    if site is None or site.tenant_id != tenant_id:
        raise NotFound(str(_l("No such check-in site.")))
    return site


def sites_query(tenant_id: int):
    """Every site of the district by name (the caller adds the permission's path filter on OrgUnit.path)."""
    return (
        select(CheckinSite)
        .join(OrgUnit, OrgUnit.id == CheckinSite.org_unit_id)
        .options(joinedload(CheckinSite.org_unit))
        .where(CheckinSite.tenant_id == tenant_id)
        .order_by(OrgUnit.path, CheckinSite.id)
    )


def read_site_token(token: str, tenant_id: int | None = None, now: float | None = None) -> tuple[int, str, int]:
    """(site id, source, tenant id) of a genuine site poster or site code; raises a TokenInvalid subclass."""
    text = (token or "").strip().upper()
    parts = text.split(".")
    kind = TOKEN_KINDS.get(parts[1]) if len(parts) > 2 else None
    if kind is None:
        raise TokenMalformed()
    purpose, source = kind
    claims = check_token(text, purpose, now, tenant_id=tenant_id)
    return claims.subject_id, source, claims.tenant_id


# --- check-ins -------------------------------------------------------------------------------------------


_members = cast(Table, Member.__table__)
_sites = cast(Table, CheckinSite.__table__)
_unit = cast(Table, OrgUnit.__table__).alias("unit")
_community = cast(Table, OrgUnit.__table__).alias("community")
_rules = cast(Table, CheckinRule.__table__)
_rule_in_force = (
    select(_rules.c.id)
    .where(_rules.c.tenant_id == bindparam("s_tenant"), _rules.c.effective_from <= bindparam("s_at"))
    .order_by(_rules.c.effective_from.desc(), _rules.c.version.desc())
    .limit(1)
    .scalar_subquery()
)
# Everything a scan reads, in one statement of plain columns (Core: no ORM objects to build), built
# once with bound parameters only (compiled once): the member's district, status and party
# membership; the site (NULL columns when there is no such site) with its unit's path; the member's
# 报到 community's path; and the district's check-in rule in force at s_at (checkin_rule_for's query
# as a subquery; NULL columns when the district has none).
_SCAN_READ = FixedStatement(
    select(
        _members.c.tenant_id.label("member_tenant"),
        _members.c.status,
        _members.c.is_party_member,
        _sites.c.id.label("site_id"),
        _sites.c.tenant_id.label("site_tenant"),
        _sites.c.org_unit_id,
        _sites.c.name,
        _sites.c.lat,
        _sites.c.lng,
        _sites.c.radius_m,
        _sites.c.active,
        _unit.c.path.label("unit_path"),
        _community.c.path.label("community_path"),
        _community.c.tenant_id.label("community_tenant"),
        _rules.c.id.label("rule_id"),
        _rules.c.version,
        _rules.c.points_per_checkin,
        _rules.c.other_site_points,
        _rules.c.monthly_cap,
    )
    .select_from(
        _members.outerjoin(_sites, _sites.c.id == bindparam("s_site"))
        .outerjoin(_unit, _unit.c.id == _sites.c.org_unit_id)
        .outerjoin(_community, _community.c.id == _members.c.checkin_community_id)
        .outerjoin(_rules, _rules.c.id == _rule_in_force)
    )
    .where(_members.c.id == bindparam("s_member"))
)


@dataclass(frozen=True)
class ScannedSite:
    """The site of a check-in, as the scan read it."""

    id: int
    name: str
    org_unit_id: int


@dataclass(frozen=True)
class RecordedCheckin:
    """A check-in as the scan wrote it: the party_checkins row's values (not an object in the session;
    a later read loads the row afresh)."""

    id: int
    tenant_id: int
    member_id: int
    site_id: int
    day: date
    checked_in_at: datetime
    source: str
    lat: float | None
    lng: float | None
    distance_m: int | None
    own_community: bool
    points: int
    points_cut: int
    monthly_cap: int | None
    journal_id: int | None
    site: ScannedSite


@dataclass(frozen=True)
class CheckinResult:
    checkin: RecordedCheckin
    site: ScannedSite


def check_in(
    session: Session,
    member: Member,
    token: str,
    lat: float | None = None,
    lng: float | None = None,
    now: datetime | None = None,
    seen_at: datetime | None = None,
) -> CheckinResult:
    """`check_in_member` for a loaded member."""
    return check_in_member(session, member.tenant_id, member.id, token, lat, lng, now, seen_at)


def check_in_member(
    session: Session,
    tenant_id: int,
    member_id: int,
    token: str,
    lat: float | None = None,
    lng: float | None = None,
    now: datetime | None = None,
    seen_at: datetime | None = None,
) -> CheckinResult:
    """Record the signed-in party member's check-in at the site the code stands for, and credit its
    points (within the monthly cap). `seen_at`: when the code was opened before signing in. The member
    is read here with the site (the caller need not load it)."""
    now = now or utcnow()
    token_time = (seen_at or now).replace(tzinfo=None)
    site_id, source, _t = read_site_token(token, tenant_id, token_time.replace(tzinfo=UTC).timestamp())
    session.flush()  # the Core statements below see the caller's pending ORM changes (as autoflush would)
    conn = session.connection()
    found = _SCAN_READ.first(
        conn, {"s_member": member_id, "s_site": site_id, "s_tenant": tenant_id, "s_at": now.replace(tzinfo=None)}
    )
    if found is None or found.member_tenant != tenant_id:
        raise NotFound(str(_l("No such member.")))
    if found.site_id is None or found.site_tenant != tenant_id:
        raise NotFound(str(_l("No such check-in site.")))
    site = ScannedSite(found.site_id, found.name, found.org_unit_id)
    rule = (
        DEFAULT_CHECKIN_RULE
        if found.rule_id is None
        else CheckinPricing(
            found.rule_id, found.version, found.points_per_checkin, found.other_site_points, found.monthly_cap
        )
    )
    if not found.active:
        raise errors.SiteClosed(closed_message(site))
    if not found.is_party_member or found.status != ACTIVE:
        raise errors.NotAPartyMember(
            str(_l("Check-in at this site is for party members. If you are one, ask your community to record it."))
        )
    distance = None
    if found.radius_m is not None:
        if lat is None or lng is None:
            raise errors.LocationRequired(
                str(_l("This site checks where you are. Allow the page to use your location, then try again."))
            )
        assert found.lat is not None and found.lng is not None
        distance = int(distance_m(lat, lng, found.lat, found.lng))
        if distance > found.radius_m:
            raise errors.OutsideRadius(
                str(
                    _l(
                        "You are %(distance)s m from the site; check in within %(radius)s m of it.",
                        distance=distance,
                        radius=found.radius_m,
                    )
                )
            )
    day = to_beijing(now).date()
    # The site is at the member's own 报到 community or a grid under it (read above).
    own = (
        found.community_path is not None
        and found.community_tenant == tenant_id
        and found.unit_path.startswith(found.community_path)
    )
    # INSERT … ON CONFLICT DO NOTHING RETURNING: of simultaneous scans, exactly one makes the row (and
    # goes on to the points); the others find it taken. Core statements built once (no ORM insert
    # and flush): the row's values are known here, the points are set once they are posted.
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "member_id": member_id,
        "site_id": site.id,
        "day": day,
        "checked_in_at": now.replace(tzinfo=None),
        "source": source,
        "lat": lat,
        "lng": lng,
        "distance_m": distance,
        "own_community": own,
    }
    inserted = _insert_checkin(conn.dialect.name).first(conn, {f"v_{k}": v for k, v in values.items()})
    if inserted is None:
        raise errors.AlreadyCheckedInToday(
            str(_l("You have already checked in at %(site)s today. Come again tomorrow.", site=site.name))
        )
    checkin_id = inserted.id
    credit = credit_checkin(
        session,
        tenant_id,
        checkin_id,
        member_id,
        site.org_unit_id,
        values["checked_in_at"],
        own,
        memo=site.name,
        rule=rule,
    )
    points: dict[str, Any] = {
        "points": credit.points,
        "points_cut": credit.cut,
        "monthly_cap": credit.cap,
        "journal_id": credit.journal_id,
    }
    _SET_POINTS.rows(conn, {"c_id": checkin_id, **{f"c_{k}": v for k, v in points.items()}})
    return CheckinResult(RecordedCheckin(id=checkin_id, **values, **points, site=site), site)


_CHECKIN_COLUMNS = (
    "tenant_id",
    "member_id",
    "site_id",
    "day",
    "checked_in_at",
    "source",
    "lat",
    "lng",
    "distance_m",
    "own_community",
)


_checkins = cast(Table, PartyCheckin.__table__)
_SET_POINTS = FixedStatement(
    update(_checkins)
    .where(_checkins.c.id == bindparam("c_id"))
    .values(**{c: bindparam(f"c_{c}") for c in ("points", "points_cut", "monthly_cap", "journal_id")})
)


@lru_cache(maxsize=4)
def _insert_checkin(dialect: str) -> FixedStatement:
    """The check-in's insert, built and compiled once per dialect; its points start at 0 (written in
    the SQL, not bound) and are set once they are posted."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return FixedStatement(
        insert(_checkins)
        .values(
            **{c: bindparam(f"v_{c}") for c in _CHECKIN_COLUMNS},
            points=literal_column("0"),
            points_cut=literal_column("0"),
        )
        .on_conflict_do_nothing(index_elements=["member_id", "site_id", "day"])
        .returning(_checkins.c.id)
    )


def my_checkins_query(member: Member):
    return (
        select(PartyCheckin)
        .options(joinedload(PartyCheckin.site))
        .where(PartyCheckin.tenant_id == member.tenant_id, PartyCheckin.member_id == member.id)
        .order_by(PartyCheckin.checked_in_at.desc(), PartyCheckin.id.desc())
    )


# --- household visits ------------------------------------------------------------------------------------


def responsible_grids(session: Session, member: Member, on: date) -> list[OrgUnit]:
    """The grids the member is responsible for (包格联户) on `on`."""
    rows = session.scalars(
        select(GridAssignment)
        .options(joinedload(GridAssignment.org_unit))
        .where(GridAssignment.tenant_id == member.tenant_id, GridAssignment.member_id == member.id)
    ).all()
    seen: dict[int, OrgUnit] = {}
    for a in rows:
        if a.current(on):
            seen.setdefault(a.org_unit_id, a.org_unit)
    return sorted(seen.values(), key=lambda u: u.name)


def log_visit(
    session: Session,
    member: Member,
    grid_id: int,
    visit_date: date,
    households: int,
    note: str = "",
    today: date | None = None,
) -> HouseholdVisit:
    today = today or to_beijing(utcnow()).date()
    note = (note or "").strip()
    if visit_date > today:
        raise errors.VisitInvalid(str(_l("The visit date cannot be in the future.")), "visit_date")
    if not 1 <= households <= 200:
        raise errors.VisitInvalid(str(_l("Households visited must be from 1 to 200.")), "households")
    if len(note) > 200:
        raise errors.VisitInvalid(str(_l("The note may have at most 200 characters.")), "note")
    grid = next((g for g in responsible_grids(session, member, visit_date) if g.id == grid_id), None)
    if grid is None:
        raise errors.NotResponsible(
            str(_l("You were not responsible for that grid on that date. Choose one of your grids.")), "grid"
        )
    visit = HouseholdVisit(
        tenant_id=member.tenant_id,
        member_id=member.id,
        grid_id=grid.id,
        grid=grid,
        visit_date=visit_date,
        households=households,
        note=note,
        status=SUBMITTED,
        created_at=utcnow(),
    )
    session.add(visit)
    session.flush()
    return visit


def get_visit(session: Session, tenant_id: int, visit_id: int) -> HouseholdVisit:
    visit = session.scalars(
        select(HouseholdVisit)
        .options(joinedload(HouseholdVisit.grid), joinedload(HouseholdVisit.member))
        .where(HouseholdVisit.id == visit_id)
    ).first()
    if visit is None or visit.tenant_id != tenant_id:
        raise NotFound(str(_l("No such visit.")))
    return visit


def decide_visit(
    session: Session,
    visit: HouseholdVisit,
    actor_user_id: int | None,
    confirm: bool,
    reason: str = "",
    *,
    actor_member_id: int | None = None,
) -> HouseholdVisit:
    """The grid admin confirms the visit, or rejects it with a reason (the caller checked the permission);
    not their own visit (`actor_member_id`: own_visit)."""
    if actor_member_id is not None and actor_member_id == visit.member_id:
        raise errors.OwnVisit(str(_l("This is your own visit; another grid administrator must decide it.")))
    reason = (reason or "").strip()
    if not confirm and not reason:
        raise errors.VisitInvalid(str(_l("Say why the visit is rejected.")), "reason")
    if len(reason) > 200:
        raise errors.VisitInvalid(str(_l("The reason may have at most 200 characters.")), "reason")
    locked = session.scalars(
        select(HouseholdVisit)
        .where(HouseholdVisit.id == visit.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.status != SUBMITTED:
        raise errors.AlreadyDecided(str(_l("This visit was already decided.")))
    locked.status = CONFIRMED if confirm else REJECTED
    locked.reason = reason
    locked.decided_by_user_id = actor_user_id
    locked.decided_at = utcnow()
    session.flush()
    record(
        session,
        "checkin.visit_decide",
        tenant_id=locked.tenant_id,
        actor_user_id=actor_user_id,
        target_type="household_visit",
        target_id=locked.id,
        detail={"status": locked.status, "reason": reason, "households": locked.households},
    )
    return locked


def my_visits_query(member: Member):
    return (
        select(HouseholdVisit)
        .options(joinedload(HouseholdVisit.grid))
        .where(HouseholdVisit.tenant_id == member.tenant_id, HouseholdVisit.member_id == member.id)
        .order_by(HouseholdVisit.visit_date.desc(), HouseholdVisit.id.desc())
    )


def visit_queue_query(tenant_id: int, status: str | None = SUBMITTED):
    """Visits of the district (the caller adds the permission's path filter on OrgUnit.path)."""
    q = (
        select(HouseholdVisit)
        .join(OrgUnit, OrgUnit.id == HouseholdVisit.grid_id)
        .options(joinedload(HouseholdVisit.grid), joinedload(HouseholdVisit.member))
        .where(HouseholdVisit.tenant_id == tenant_id)
        .order_by(HouseholdVisit.visit_date, HouseholdVisit.id)
    )
    if status:
        q = q.where(HouseholdVisit.status == status)
    return q
