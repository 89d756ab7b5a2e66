"""Grid report rules through the services, on both databases: where a report goes (the member's grid,
the grid above a building, a chosen grid, never a community), what is refused and leaves nothing
behind, photos shrunk and stripped of their EXIF, triage rules (a reason to reject, a duplicate of an
earlier non-rejected report, one decision per report, refused by the database too), points credited
once by the district's rule and cut by its monthly cap, the overdue flag by the district's period, the
scope of the triage queue, and the verified reports the fund reads. On PostgreSQL, two grid admins
verifying one report at once verify it once and credit its points once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.access import Principal, Scope, path_filter
from app.db import unit_of_work, utcnow
from app.errors import NotFound
from app.gridreports import errors, services
from app.gridreports.models import GridReport
from app.gridreports.photos import photo_path
from app.people.models import Member
from app.places import services as places
from app.places.models import OrgUnit
from app.points.grid_report_rules import change_report_rule, report_rule_for
from ledger import Ledger
from ledger.schema import journals
from tests.factories import make_member, make_town


@pytest.fixture
def session(app):
    """The app's session (its areas registered the role kinds) in a transaction rolled back after the test."""
    with app.app_context(), app.test_request_context():
        s = app.extensions["db_sessionmaker"]()
        yield s
        s.close()


@pytest.fixture
def town(session):
    return make_town(session)


def jpeg(size=(3000, 2000), exif_gps=False) -> bytes:
    img = Image.new("RGB", size, (10, 120, 200))
    out = BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (22.0, 45.0, 0.0)}  # GPSInfo
        img.save(out, format="JPEG", exif=exif)
    else:
        img.save(out, format="JPEG")
    return out.getvalue()


def _report(session, member, **kw):
    kw.setdefault("category", "hazard")
    kw.setdefault("text", "楼道堆放杂物，堵住消防通道")
    return services.submit_report(session, member, **kw)


def _posted(session, town, member) -> int:
    return Ledger(session, tenant=town.district.id).balance(f"member:{member.id}").posted


def test_report_goes_to_the_members_grid_or_the_grid_chosen(session, town):
    t = town.district.id
    member = make_member(session, t, town.grid_a1, name="周杰")
    assert _report(session, member).grid_id == town.grid_a1.id
    assert _report(session, member, grid=town.grid_b1).grid_id == town.grid_b1.id
    building = places.create_unit(session, t, name="1栋", kind="building", parent=town.grid_a2)
    assert _report(session, member, grid=building).grid_id == town.grid_a2.id
    in_building = make_member(session, t, building, name="吴敏")
    assert _report(session, in_building).grid_id == town.grid_a2.id
    with pytest.raises(errors.GridRequired):
        _report(session, member, grid=town.community_a)
    other = make_town(session)
    with pytest.raises(NotFound):
        _report(session, member, grid=other.grid_a1)


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"category": "weather"}, errors.ReportInvalid),
        ({"text": "坏了"}, errors.ReportInvalid),
        ({"text": "长" * 1001}, errors.ReportInvalid),
        ({"lat": 22.7}, errors.ReportInvalid),
        ({"lat": 95.0, "lng": 113.9}, errors.ReportInvalid),
        ({"lat": float("nan"), "lng": 113.9}, errors.ReportInvalid),
        ({"photos": [b"x"] * 4}, errors.PhotoInvalid),
        ({"photos": [b"GIF89a not really"]}, errors.PhotoInvalid),
        ({"photos": [b"%PDF-1.4 a document"]}, errors.PhotoInvalid),
    ],
)
def test_bad_reports_are_refused_and_leave_nothing(session, town, tmp_path, kw, error):
    member = make_member(session, town.district.id, town.grid_a1, name="周杰")
    with pytest.raises(error):
        _report(session, member, upload_dir=tmp_path, **kw)
    assert session.scalar(select(func.count()).where(GridReport.reporter_member_id == member.id)) == 0
    assert not list(tmp_path.rglob("*.jpg"))


def test_photos_are_shrunk_upright_without_exif_and_stored_once(session, town, tmp_path):
    member = make_member(session, town.district.id, town.grid_a1, name="周杰")
    photo = jpeg(exif_gps=True)
    report = _report(session, member, photos=[photo, photo], upload_dir=tmp_path)
    assert [(p.position, p.width, p.height) for p in report.photos] == [(1, 1600, 1067), (2, 1600, 1067)]
    assert report.photos[0].sha256 == report.photos[1].sha256  # the same content: one file
    assert len(list(tmp_path.rglob("*.jpg"))) == 1
    with Image.open(photo_path(tmp_path, report.photos[0].sha256)) as stored:
        assert stored.format == "JPEG" and not stored.getexif()
    with pytest.raises(errors.PhotoInvalid):
        _report(session, member, photos=[photo])  # nowhere to keep it: refused, not dropped


def test_verified_report_credits_points_once_by_the_rule_and_cap(session, town):
    t = town.district.id
    member = make_member(session, t, town.grid_a1, name="周杰")
    change_report_rule(session, t, None, points_per_report=6, monthly_cap=10)
    first, second, third = (_report(session, member) for _ in range(3))
    services.verify_report(session, first, None)
    assert (first.status, first.points, first.points_cut) == ("verified", 6, 0)
    services.verify_report(session, second, None)
    assert (second.points, second.points_cut) == (4, 2)  # the monthly cap of 10
    services.verify_report(session, third, None)
    assert (third.points, third.journal_id) == (0, None)
    assert _posted(session, town, member) == 10
    with pytest.raises(errors.AlreadyTriaged):
        services.verify_report(session, first, None)
    with pytest.raises(errors.AlreadyTriaged):
        services.reject_report(session, first, None, "改主意")
    assert _posted(session, town, member) == 10
    keys = session.scalars(
        select(journals.c.key).where(journals.c.tenant_id == t, journals.c.kind == "report").order_by(journals.c.id)
    ).all()
    assert keys == [f"report:{first.id}", f"report:{second.id}"]
    assert report_rule_for(session, t, utcnow()).points_per_report == 6


def test_reject_needs_a_reason_and_duplicates_point_back(session, town):
    member = make_member(session, town.district.id, town.grid_a1, name="周杰")
    a, b, c, d = (_report(session, member) for _ in range(4))
    with pytest.raises(errors.ReasonRequired):
        services.reject_report(session, a, None, "  ")
    with pytest.raises(errors.DuplicateInvalid):
        services.mark_duplicate(session, a, None, a)
    with pytest.raises(errors.DuplicateInvalid):
        services.mark_duplicate(session, a, None, b)  # b was made after a
    services.mark_duplicate(session, b, None, a)
    services.mark_duplicate(session, c, None, b)  # b repeats a, so c does too
    assert (b.duplicate_of_id, c.duplicate_of_id) == (a.id, a.id)
    services.reject_report(session, a, None, "不属实")
    with pytest.raises(errors.DuplicateInvalid):
        services.mark_duplicate(session, d, None, a)
    assert (a.status, b.status, c.status, d.status) == ("rejected", "duplicate", "duplicate", "submitted")
    assert _posted(session, town, member) == 0


@pytest.mark.parametrize(
    "values",
    [
        {"status": "verified"},  # decided with no time
        {"status": "rejected", "triaged_at": utcnow()},  # no reason
        {"status": "duplicate", "triaged_at": utcnow()},  # no original
        {"points": 5},  # points on a report not verified
    ],
)
def test_the_database_refuses_an_inconsistent_report(session, town, values):
    member = make_member(session, town.district.id, town.grid_a1, name="周杰")
    report = _report(session, member)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(update(GridReport).where(GridReport.id == report.id).values(**values))


def test_overdue_by_the_districts_period(session, town):
    t = town.district.id
    member = make_member(session, t, town.grid_a1, name="周杰")
    now = utcnow()
    old = _report(session, member, now=now - timedelta(days=4))
    new = _report(session, member, now=now - timedelta(days=2))
    cutoff = services.overdue_before(session, t, now)
    assert (services.is_overdue(old, cutoff), services.is_overdue(new, cutoff)) == (True, False)
    services.set_triage_days(session, t, None, 5)
    cutoff = services.overdue_before(session, t, now)
    assert not services.is_overdue(old, cutoff)
    services.set_triage_days(session, t, None, 1)
    everywhere = path_filter(_principal(town, None), "gridreport.triage", OrgUnit.path)
    assert services.waiting_counts(session, t, everywhere, services.overdue_before(session, t, now)) == (2, 2)
    with pytest.raises(errors.SettingInvalid):
        services.set_triage_days(session, t, None, 0)


def _principal(town, path):
    return Principal("x", 1, 1, town.district.id, "x", scopes=[Scope("grid_admin" if path else "district_admin", path)])


def test_triage_queue_is_scoped_to_the_admins_grids(app, session, town):
    t = town.district.id
    member = make_member(session, t, town.grid_a1, name="周杰")
    mine = _report(session, member)
    theirs = _report(session, member, grid=town.grid_b1)
    scope = path_filter(_principal(town, town.community_a.path), "gridreport.triage", OrgUnit.path)
    ids = session.scalars(services.triage_query(t).where(scope)).all()
    assert [r.id for r in ids] == [mine.id]
    assert theirs.id not in [r.id for r in ids]


def test_fund_reads_verified_reports(session, town):
    member = make_member(session, town.district.id, town.grid_a1, name="周杰")
    a, b = _report(session, member), _report(session, member)
    services.verify_report(session, a, None)
    found = session.scalars(services.verified_reports_query(town.district.id)).all()
    assert [r.id for r in found] == [a.id]
    assert services.get_verified_report(session, town.district.id, a.id).reporter.name == "周杰"
    with pytest.raises(NotFound):
        services.get_verified_report(session, town.district.id, b.id)


@pytest.fixture
def pg_app(pg_engine, postgres_url):
    from app import create_app  # noqa: PLC0415  (the app on its own engine, committing for real)
    from tests.conftest import TEST_CONFIG  # noqa: PLC0415

    return create_app({**TEST_CONFIG, "DATABASE_URL": postgres_url, "ENGINE": pg_engine})


@pytest.mark.postgres
@pytest.mark.commits
def test_two_admins_verifying_at_once_verify_once_and_credit_once(pg_app):
    app = pg_app
    maker = app.extensions["db_sessionmaker"]
    with app.app_context(), app.test_request_context(), unit_of_work(maker) as s:
        town = make_town(s)
        t = town.district.id
        member = make_member(s, t, town.grid_a1, name="周杰")
        member_id = member.id
        report_id = _report(s, member).id
    tries = 6
    barrier = threading.Barrier(tries)

    def one(_i: int) -> str:
        with app.app_context(), app.test_request_context():
            barrier.wait(timeout=30)
            try:
                with unit_of_work(maker) as s:
                    report = services.get_report(s, t, report_id)
                    services.verify_report(s, report, None)
                return "verified"
            except errors.AlreadyTriaged:
                return "already"

    with ThreadPoolExecutor(max_workers=tries) as pool:
        outcomes = list(pool.map(one, range(tries)))
    assert sorted(outcomes) == ["already"] * (tries - 1) + ["verified"]
    with app.app_context(), unit_of_work(maker) as s:
        assert Ledger(s, tenant=t).balance(f"member:{member_id}").posted == 5
        keys = (
            select(func.count())
            .select_from(journals)
            .where(journals.c.tenant_id == t, journals.c.key == f"report:{report_id}")
        )
        assert s.scalar(keys) == 1
        assert s.get(Member, member_id) is not None
