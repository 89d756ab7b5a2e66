"""The volunteers' pages through the real app: browsing nearest first with filters, signing up and
cancelling through the real forms (CSRF and all), the waiting list and its promotion notice, the
notices page, my points before and after the organiser's review, my activities, the home panel, and
what must never open (drafts, another district's activities) or fail (odd query arguments)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.activities import services as activities
from app.activities.labels import CHECKIN, CHECKOUT
from app.auth.models import User
from app.db import unit_of_work, utcnow
from tests.conftest import csrf_from, sign_in
from tests.factories import make_town, make_user


def _uow(app):
    return unit_of_work(app.extensions["db_sessionmaker"])


def make_activity(
    app,
    town,
    title: str,
    host=None,
    *,
    starts_in: timedelta = timedelta(days=2),
    minutes: int = 120,
    capacity: int = 10,
    category: str = "environment",
    publish: bool = True,
    **kw,
) -> int:
    """An activity created (and published) through the services, as an organiser would."""
    with app.test_request_context(), _uow(app) as s:
        starts = utcnow().replace(microsecond=0) + starts_in
        data = activities.ActivityData(
            title=title,
            category=category,
            host_unit_id=(host or town.community_a).id,
            place=kw.pop("place", "社区广场"),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=minutes),
            capacity=capacity,
            **kw,
        )
        a = activities.create_activity(s, town.district.id, data, actor_user_id=None)
        if publish:
            activities.publish_activity(s, a, actor_user_id=None)
        return a.id


def english(client) -> None:
    client.set_cookie("lang", "en")


def page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:500])
    return resp.get_data(as_text=True)


def sign_up_through_form(client, activity_id: int):
    html = page(client, f"/activities/{activity_id}")
    return client.post(f"/activities/{activity_id}/signup", data={"csrf_token": csrf_from(html)})


def test_browse_shows_the_members_own_community_first(app, client, town):
    far = make_activity(app, town, "塘家社区清扫", town.community_b, starts_in=timedelta(hours=5))
    near = make_activity(app, town, "凤凰社区垃圾分类宣传", town.community_a, starts_in=timedelta(days=3))
    own_grid = make_activity(app, town, "第一片区探访长者", town.grid_a1, starts_in=timedelta(days=6))
    sign_in(client, town, "volunteer")  # lives in grid A1 of community A
    html = page(client, "/activities/")
    positions = [html.index(f'/activities/{i}"') for i in (own_grid, near, far)]
    assert positions == sorted(positions), "own grid, then own community, then the other community"
    assert "凤凰社区垃圾分类宣传" in html and town.community_a.name in html


def test_browse_filters(app, client, town):
    clean = make_activity(app, town, "河道清洁", starts_in=timedelta(days=1), category="environment")
    patrol = make_activity(app, town, "夜间巡逻", town.community_b, starts_in=timedelta(days=10), category="safety")
    full = make_activity(app, town, "满员的讲座", starts_in=timedelta(days=2), capacity=1, category="culture")
    with app.test_request_context(), _uow(app) as s:
        other = make_user(s, town.district.id, town.grid_b1, "周杰")
        activities.sign_up(s, full, other)
    sign_in(client, town, "volunteer")

    def ids(query: str) -> set[int]:
        html = page(client, "/activities/?" + query)
        return {int(x) for x in re.findall(r'href="/activities/(\d+)"', html)} & {clean, patrol, full}

    assert ids("") == {clean, patrol, full}
    assert ids("category=safety") == {patrol}
    assert ids("q=河道") == {clean}
    assert ids(f"community={town.community_b.id}") == {patrol}
    assert ids("open=1") == {clean, patrol}
    later = (utcnow() + timedelta(days=5)).strftime("%Y-%m-%d")
    assert ids(f"from={later}") == {patrol}
    assert ids(f"to={later}") == {clean, full}


def test_browse_card_says_places_left_and_full(app, client, town):
    make_activity(app, town, "还有名额的活动", capacity=12)
    full = make_activity(app, town, "已经满员的活动", capacity=1)
    with app.test_request_context(), _uow(app) as s:
        activities.sign_up(s, full, make_user(s, town.district.id, town.grid_b1, "周杰"))
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, "/activities/")
    assert "12 places left" in html
    assert "Full: join the waiting list" in html


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-45",
        "to=yesterday",
        "from=0001-01-01",
        "page=99999999999999999999",
        "page=-3",
        "page=abc",
        "community=abc",
        "community=99999999999999999999999",
        "community=1",
        "category=nonsense",
        "q=" + "长" * 500,
        "open=yes",
    ],
)
def test_odd_query_arguments_never_fail(app, client, town, query):
    make_activity(app, town, "某活动")
    sign_in(client, town, "volunteer")
    resp = client.get("/activities/?" + query)
    assert resp.status_code == 200


def test_bad_date_says_what_to_fix(app, client, town):
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, "/activities/?from=2026-02-30")
    assert "YYYY-MM-DD" in html


def test_sign_up_and_cancel_through_the_forms(app, client, town):
    aid = make_activity(app, town, "敬老院陪伴")
    member = sign_in(client, town, "volunteer")
    english(client)
    resp = sign_up_through_form(client, aid)
    assert resp.status_code == 302
    html = page(client, f"/activities/{aid}")
    assert "You are signed up." in html
    # Signed up: shown on the list card, my activities and the home page.
    assert "You are signed up" in page(client, "/activities/")
    assert "敬老院陪伴" in page(client, "/me/activities")
    assert "敬老院陪伴" in page(client, "/")
    # A second sign-up says so instead of failing.
    again = client.post(f"/activities/{aid}/signup", data={"csrf_token": csrf_from(html)}, follow_redirects=True)
    assert again.status_code == 200
    assert "already signed up" in again.get_data(as_text=True)
    # Cancelling asks first; the POST without confirm=yes only shows the question again.
    confirm = page(client, f"/activities/{aid}/cancel-signup")
    assert "Cancel your sign-up?" in confirm
    token = csrf_from(confirm)
    asked = client.post(f"/activities/{aid}/cancel-signup", data={"csrf_token": token})
    assert asked.status_code == 200 and "Cancel your sign-up?" in asked.get_data(as_text=True)
    done = client.post(f"/activities/{aid}/cancel-signup", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 302
    html = page(client, f"/activities/{aid}")
    assert "You are not signed up yet." in html
    with _uow(app) as s:
        a = activities.get_activity(s, town.district.id, aid)
        assert a.confirmed_count == 0
        assert activities.my_signup(s, a, member.id).status == "cancelled"


def test_sign_up_without_csrf_token_is_refused(app, client, town):
    aid = make_activity(app, town, "无令牌")
    sign_in(client, town, "volunteer")
    resp = client.post(f"/activities/{aid}/signup", data={})
    assert resp.status_code == 400
    with _uow(app) as s:
        assert activities.get_activity(s, town.district.id, aid).confirmed_count == 0


def test_full_activity_puts_me_on_the_waiting_list_and_a_cancellation_promotes_me(app, client, town):
    aid = make_activity(app, town, "植树活动", capacity=1)
    with app.test_request_context(), _uow(app) as s:
        first = make_user(s, town.district.id, town.grid_b1, "周杰")
        activities.sign_up(s, aid, first)
        first_id = first.id
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, f"/activities/{aid}")
    assert "Join the waiting list" in html
    resp = sign_up_through_form(client, aid)
    assert resp.status_code == 302
    html = page(client, f"/activities/{aid}")
    assert "You are on the waiting list: number 1." in html
    assert "On the waiting list" in page(client, "/me/activities")

    with app.test_request_context(), _uow(app) as s:
        activities.cancel_signup(s, aid, s.get(type(first), first_id))

    html = page(client, f"/activities/{aid}")
    assert "You are signed up." in html
    # The notice, in words, with the unread badge in the menu; reading it is a POST.
    home = page(client, "/")
    assert 'class="badge"' in home
    notices = page(client, "/notices")
    assert "A place came free: you are now signed up for “植树活动”" in notices
    assert f'href="/activities/{aid}"' in notices
    assert "Mark all as read" in notices
    assert 'class="badge"' in page(client, "/notices"), "a GET does not mark anything read"
    resp = client.post("/notices/read", data={"csrf_token": csrf_from(notices)})
    assert resp.status_code == 302
    after = page(client, "/notices")
    assert "Mark all as read" not in after
    assert 'class="badge"' not in after
    assert "A place came free" in after


def test_not_eligible_and_closed_get_clear_messages(app, client, town):
    for_b = make_activity(app, town, "仅限塘家社区", eligibility="community", eligible_unit_id=town.community_b.id)
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, f"/activities/{for_b}")
    assert f"Only residents of {town.community_b.name} may join this activity." in html
    assert "Residents of " + town.community_b.name in html
    # Posting anyway (an old page) says why, never a 500.
    resp = client.post(f"/activities/{for_b}/signup", data={"csrf_token": csrf_from(html)}, follow_redirects=True)
    assert resp.status_code == 200
    assert f"Only residents of {town.community_b.name} may join" in resp.get_data(as_text=True)


def test_cancelled_activity_shows_the_reason(app, client, town):
    aid = make_activity(app, town, "取消的活动")
    with app.test_request_context(), _uow(app) as s:
        activities.cancel_activity(s, activities.get_activity(s, town.district.id, aid), "暴雨预警", actor_user_id=None)
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, f"/activities/{aid}")
    assert "This activity was cancelled: 暴雨预警" in html
    assert "/signup" not in html


def test_drafts_and_other_districts_activities_are_not_found(app, client, town):
    draft = make_activity(app, town, "草稿活动", publish=False)
    with app.test_request_context(), _uow(app) as s:
        other_town = make_town(s)
    elsewhere = make_activity(app, other_town, "别区的活动")
    sign_in(client, town, "volunteer")
    assert client.get(f"/activities/{draft}").status_code == 404
    assert client.post(f"/activities/{draft}/signup", data={"csrf_token": "x"}).status_code in (400, 404)
    assert client.get(f"/activities/{elsewhere}").status_code == 404
    assert client.get(f"/activities/{elsewhere}/cancel-signup").status_code == 404
    assert "别区的活动" not in page(client, "/activities/")
    assert "草稿活动" not in page(client, "/activities/")


def test_organiser_sees_their_draft(app, client, town):
    draft = make_activity(app, town, "组织者的草稿", publish=False)
    sign_in(client, town, "organiser")
    assert client.get(f"/activities/{draft}").status_code == 200


def _serve(app, town, aid: int, member_id: int, minutes: int) -> int:
    """The volunteer served `minutes` (recorded by hand by the organiser); returns the attendance id."""
    organiser = town.users["organiser"][0]
    with app.test_request_context(), _uow(app) as s:
        user_id = s.scalar(select(User.id).where(User.member_id == organiser.id))
        a = activities.get_activity(s, town.district.id, aid)
        m = s.get(type(organiser), member_id)
        activities.record_by_hand(s, a, m, direction=CHECKIN, at=a.starts_at, reason="现场登记", actor_user_id=user_id)
        r = activities.record_by_hand(
            s,
            a,
            m,
            direction=CHECKOUT,
            at=a.starts_at + timedelta(minutes=minutes),
            reason="现场登记",
            actor_user_id=user_id,
        )
        return r.attendance.id


def _review(app, town, aid: int, decision) -> None:
    organiser = town.users["organiser"][0]
    with app.test_request_context(), _uow(app) as s:
        user_id = s.scalar(select(User.id).where(User.member_id == organiser.id))
        a = activities.get_activity(s, town.district.id, aid)
        activities.review(s, a, decision, actor_user_id=user_id, actor_member_id=organiser.id)


def test_my_points_pending_then_available_after_review(app, client, town):
    aid = make_activity(app, town, "垃圾分类宣传", starts_in=timedelta(hours=-1), minutes=150)
    member = town.users["volunteer"][0]
    _serve(app, town, aid, member.id, 150)
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, "/me/points")
    line = re.search(r'<li class="points-line pending">(.*?)</li>', html, re.S)
    assert line, html
    assert "垃圾分类宣传 · served 2.5 hours" in line.group(1)
    assert "Waiting for review" in line.group(1)
    pending = int(re.search(r'class="big pending">(\d+)<', html).group(1))
    available = int(re.search(r'class="big">(\d+)<', html).group(1))
    assert pending > 0 and available == 0
    assert "Waiting for review" in page(client, "/me/activities")

    _review(app, town, aid, activities.Review(approve="all"))

    html = page(client, "/me/points")
    assert int(re.search(r'class="big">(\d+)<', html).group(1)) == pending
    assert int(re.search(r'class="big pending">(\d+)<', html).group(1)) == 0
    assert re.search(r'<li class="points-line posted">\s*<span class="pl-what">垃圾分类宣传 · served 2.5 hours', html)
    # The hold is not listed beside its posting (it read as twice the points): one line, posted.
    assert html.count("垃圾分类宣传 · served 2.5 hours") == 1
    assert 'class="points-line pending"' not in html and 'class="points-line reviewed"' not in html
    assert f"+{pending}" in html
    mine = page(client, "/me/activities")
    assert "Approved" in mine and "2.5 hours credited" in mine
    home = page(client, "/")
    assert f'class="big">{pending}<' in home
    assert "垃圾分类宣传" in home


def test_adjusted_and_rejected_hours_in_words(app, client, town):
    adj = make_activity(app, town, "调整的活动", starts_in=timedelta(hours=-1), minutes=150)
    rej = make_activity(app, town, "未通过的活动", starts_in=timedelta(hours=-1), minutes=150)
    member = town.users["volunteer"][0]
    att = _serve(app, town, adj, member.id, 150)
    att2 = _serve(app, town, rej, member.id, 150)
    _review(app, town, adj, activities.Review(adjust=[(att, 60, "提前离开")]))
    _review(app, town, rej, activities.Review(reject=[(att2, "未到场")]))
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, "/me/points")
    # The adjusted line shows the credited time (from the attendance), not the time first held.
    assert "调整的活动 · served 1 hours" in html
    void = re.search(r'<li class="points-line void">\s*<span class="pl-what">未通过的活动(.*?)</li>', html, re.S)
    assert void and "Not approved" in void.group(1) and "+" in void.group(1)  # the held points, struck through
    assert html.count("未通过的活动") == 1
    mine = page(client, "/me/activities")
    assert "Organiser: 提前离开" in mine and "Organiser: 未到场" in mine
    assert "Rejected" in mine and "Approved with adjusted time" in mine


def test_pages_need_sign_in(client):
    for url in ("/activities/", "/me/points", "/me/activities", "/notices"):
        resp = client.get(url)
        assert resp.status_code in (302, 401), url


def test_home_page_for_a_volunteer_without_anything_yet(app, client, town):
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, "/")
    assert "points available" in html
    assert 'href="/me/qr"' in html
    assert 'href="/activities/"' in html and 'href="/me/points"' in html and 'href="/notices"' in html


def test_an_activity_served_and_checked_out_of_is_past_not_coming_up(app, client, town):
    # The activity runs on, but the volunteer's part is done: one list, not both (a walk-through).
    aid = make_activity(app, town, "社区义诊", starts_in=timedelta(hours=-1), minutes=150)
    member = town.users["volunteer"][0]
    with app.test_request_context(), _uow(app) as s:
        activities.sign_up(s, aid, s.get(type(member), member.id))
    sign_in(client, town, "volunteer")
    english(client)
    html = page(client, "/me/activities")
    assert "社区义诊" in html.split("Past service")[0]  # signed up, not yet served: coming up
    _serve(app, town, aid, member.id, 150)
    html = page(client, "/me/activities")
    coming, past = html.split("Past service", 1)
    assert "社区义诊" not in coming and "社区义诊" in past
