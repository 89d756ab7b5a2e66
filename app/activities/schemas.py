"""The JSON API's schemas for activities, sign-ups, codes, scans, attendances and review.

Times in: RFC 3339 date-times. With an offset (2026-12-05T09:00:00+08:00 or …Z) they mean that instant;
without one (2026-12-05T09:00:00) they mean Beijing time, as people enter them. They are stored as naive
UTC. Times out: UTC with the Z offset."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.api.schemas import Id, Page, PageQuery, utc
from app.times import to_utc
from app.validation import check_name

from .labels import ACTIVITY_STATUSES, ATTENDANCE_STATUSES, ELIGIBILITY, SIGNUP_STATUSES, SOURCES

Category = Literal["environment", "elderly", "safety", "culture", "civic", "other"]  # points.labels.CATEGORIES
Eligibility = Literal["district", "community", "party", "tag"]  # labels.ELIGIBILITY
Tag = Literal["volunteer", "party_member", "grid_worker", "building_head"]  # people.labels.TAGS
ActivityStatus = Literal["draft", "published", "cancelled"]
SignupStatus = Literal["confirmed", "waitlisted", "cancelled"]
AttendanceStatus = Literal["in", "to_review", "approved", "adjusted", "rejected"]
Source = Literal["scan", "poster", "manual", "paper", "auto"]
Direction = Literal["in", "out"]

# The vocabularies above must stay those of the labels (tests/web/test_activities_api.py checks it too).
assert set(Eligibility.__args__) == set(ELIGIBILITY)  # type: ignore[attr-defined]
assert set(ActivityStatus.__args__) == set(ACTIVITY_STATUSES)  # type: ignore[attr-defined]
assert set(SignupStatus.__args__) == set(SIGNUP_STATUSES)  # type: ignore[attr-defined]
assert set(AttendanceStatus.__args__) == set(ATTENDANCE_STATUSES)  # type: ignore[attr-defined]
assert set(Source.__args__) == set(SOURCES)  # type: ignore[attr-defined]

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_REVIEW = 20_000  # services.MAX_REVIEW


def _naive_utc(value: datetime) -> datetime:
    """An input time as stored: naive UTC. Without an offset it is Beijing time."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError("out_of_range")  # a stable code (app/validation.py)
    return to_utc(value)


def _day(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError("out_of_range")
    return value


TIME_HELP = (
    "RFC 3339 date-time. With an offset (e.g. 2026-12-05T09:00:00+08:00 or …Z) it is that instant; "
    "without one (2026-12-05T09:00:00) it is Beijing time (UTC+8). Years 2000 to 2100."
)
InTime = Annotated[datetime, AfterValidator(_naive_utc), Field(description=TIME_HELP)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Reason = Annotated[str, Field(min_length=1, max_length=200)]


def _not_null(schema: dict) -> None:
    schema.pop("default", None)


# --- activities ------------------------------------------------------------------------------------


class ActivityIn(BaseModel):
    """A new activity (created as a draft; publish it to open sign-up)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=4000)
    category: Category
    host_unit_id: Id = Field(description="The org unit that hosts it (within the organiser's scope)")
    place: str = Field(min_length=1, max_length=200, description="Where, in words")
    lat: Latitude | None = None
    lng: Longitude | None = None
    radius_m: int | None = Field(
        default=None, ge=10, le=50_000, description="Scans from farther than this from (lat, lng) are refused"
    )
    starts_at: InTime
    ends_at: InTime
    capacity: int = Field(ge=1, le=100_000)
    signup_opens_at: InTime | None = None
    signup_closes_at: InTime | None = None
    eligibility: Eligibility = "district"
    eligible_unit_id: Id | None = Field(default=None, description="The community, when eligibility is community")
    eligible_tag: Tag | None = Field(default=None, description="The tag, when eligibility is tag")
    walk_ins: bool = Field(default=True, description="May people who did not sign up check in?")

    _title = field_validator("title", "place")(check_name)


class ActivityPatch(BaseModel):
    """A partial update: only the fields given change (null clears an optional field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(default=None, min_length=1, max_length=100, json_schema_extra=_not_null)  # type: ignore[assignment]
    description: str = Field(default=None, max_length=4000, json_schema_extra=_not_null)  # type: ignore[assignment]
    category: Category = Field(default=None, json_schema_extra=_not_null)  # type: ignore[arg-type]
    host_unit_id: Id = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    place: str = Field(default=None, min_length=1, max_length=200, json_schema_extra=_not_null)  # type: ignore[assignment]
    lat: Latitude | None = None
    lng: Longitude | None = None
    radius_m: int | None = Field(default=None, ge=10, le=50_000)
    starts_at: InTime = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    ends_at: InTime = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]
    capacity: int = Field(default=None, ge=1, le=100_000, json_schema_extra=_not_null)  # type: ignore[assignment]
    signup_opens_at: InTime | None = None
    signup_closes_at: InTime | None = None
    eligibility: Eligibility = Field(default=None, json_schema_extra=_not_null)  # type: ignore[arg-type]
    eligible_unit_id: Id | None = None
    eligible_tag: Tag | None = None
    walk_ins: bool = Field(default=None, json_schema_extra=_not_null)  # type: ignore[assignment]

    _title = field_validator("title", "place")(check_name)


class ActivityQuery(PageQuery):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    scope: Literal["upcoming", "manage"] = Field(
        default="upcoming",
        description="upcoming: published activities not yet ended, nearest to you first; manage: every "
        "activity you may edit (drafts, past, cancelled), newest start first",
    )
    day_from: Annotated[date, AfterValidator(_day)] | None = Field(
        default=None, alias="from", description="Starting on or after this day (Beijing time)"
    )
    day_to: Annotated[date, AfterValidator(_day)] | None = Field(
        default=None, alias="to", description="Starting on or before this day (Beijing time)"
    )
    category: Category | None = None
    community_id: Id | None = Field(default=None, description="Hosted in this unit's subtree")
    places_left: bool = Field(default=False, description="Only those with confirmed places left")
    q: str = Field(default="", max_length=100, description="Part of the title")
    status: ActivityStatus | None = Field(default=None, description="With scope=manage: only this status")


class ActivityOut(BaseModel):
    id: int
    title: str
    description: str
    category: Category
    host_unit_id: int
    host_unit_name: str
    place: str
    lat: float | None
    lng: float | None
    radius_m: int | None
    starts_at: AwareDatetime = Field(description="UTC, RFC 3339")
    ends_at: AwareDatetime
    capacity: int
    confirmed_count: int
    places_left: int
    signup_opens_at: AwareDatetime | None
    signup_closes_at: AwareDatetime | None
    eligibility: Eligibility
    eligible_unit_id: int | None
    eligible_tag: Tag | None
    walk_ins: bool
    status: ActivityStatus
    cancel_reason: str | None
    my_signup: SignupStatus | None = Field(description="Your own sign-up, if any")

    @classmethod
    def of(cls, a, my_signup: str | None = None) -> ActivityOut:
        return cls(
            id=a.id,
            title=a.title,
            description=a.description or "",
            category=a.category,
            host_unit_id=a.host_unit_id,
            host_unit_name=a.host_unit.name if a.host_unit is not None else "",
            place=a.place,
            lat=a.lat,
            lng=a.lng,
            radius_m=a.radius_m,
            starts_at=utc(a.starts_at),
            ends_at=utc(a.ends_at),
            capacity=a.capacity,
            confirmed_count=a.confirmed_count,
            places_left=max(0, a.capacity - a.confirmed_count),
            signup_opens_at=utc(a.signup_opens_at) if a.signup_opens_at else None,
            signup_closes_at=utc(a.signup_closes_at) if a.signup_closes_at else None,
            eligibility=a.eligibility,
            eligible_unit_id=a.eligible_unit_id,
            eligible_tag=a.eligible_tag,
            walk_ins=a.walk_ins,
            status=a.status,
            cancel_reason=a.cancel_reason,
            my_signup=my_signup,  # type: ignore[arg-type]
        )


class ActivityPage(Page):
    items: list[ActivityOut]


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Reason = Field(description="Why; everyone signed up reads it")


class EmptyIn(BaseModel):
    """No fields: send {}."""

    model_config = ConfigDict(extra="forbid")


# --- sign-ups --------------------------------------------------------------------------------------


class SignupOut(BaseModel):
    activity_id: int
    member_id: int
    member_name: str
    status: SignupStatus = Field(description="confirmed, waitlisted (on the waiting list) or cancelled")
    queued_at: AwareDatetime = Field(description="The waiting list's order")

    @classmethod
    def of(cls, s) -> SignupOut:
        return cls(
            activity_id=s.activity_id,
            member_id=s.member_id,
            member_name=s.member.name,
            status=s.status,
            queued_at=utc(s.queued_at),
        )


class SignupQuery(PageQuery):
    status: SignupStatus | None = None


class SignupPage(Page):
    items: list[SignupOut]


# --- codes and scans -------------------------------------------------------------------------------


class CodeOut(BaseModel):
    token: str = Field(description="What the QR code encodes in the scan URL; POST it to /api/v1/scans")
    url: str = Field(description="The scan page's URL (what the QR code shows)")


class CodesOut(BaseModel):
    activity_id: int
    checkin: CodeOut = Field(description="The rotating check-in code (new every 30 s)")
    checkout: CodeOut = Field(description="The rotating check-out code")
    seconds_to_next: int = Field(description="Seconds until the rotating codes change")
    poster_checkin: CodeOut = Field(description="The printed check-in poster's code (valid near the activity)")
    poster_checkout: CodeOut = Field(description="The printed check-out poster's code")


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str = Field(min_length=1, max_length=120, description="The scanned code")
    lat: Latitude | None = Field(
        default=None, description="The phone's position (needed when the activity has a radius)"
    )
    lng: Longitude | None = None


# --- attendances and review ------------------------------------------------------------------------


class AttendanceOut(BaseModel):
    id: int
    activity_id: int
    member_id: int
    member_name: str
    status: AttendanceStatus
    checked_in_at: AwareDatetime
    checkin_source: Source
    checked_out_at: AwareDatetime | None
    checkout_source: Source | None
    paper: bool = Field(description="From a paper sign-in sheet (补录)")
    manual_reason: str | None
    present_minutes: int
    presence_percent: int
    credited_minutes: int
    points: int
    zero_reason: str | None = Field(
        description="Why nothing is credited: below_threshold, missed_checkout, no_overlap, below_unit"
    )
    review_reason: str | None
    reviewed_at: AwareDatetime | None

    @classmethod
    def of(cls, a, member_name: str | None = None) -> AttendanceOut:
        """`a`: an Attendance, or a scan's RecordedAttendance with the member's name given."""
        return cls(
            id=a.id,
            activity_id=a.activity_id,
            member_id=a.member_id,
            member_name=a.member.name if member_name is None else member_name,
            status=a.status,
            checked_in_at=utc(a.checked_in_at),
            checkin_source=a.checkin_source,
            checked_out_at=utc(a.checked_out_at) if a.checked_out_at else None,
            checkout_source=a.checkout_source,
            paper=bool(a.paper),
            manual_reason=a.manual_reason,
            present_minutes=a.present_minutes or 0,
            presence_percent=a.presence_percent or 0,
            credited_minutes=a.credited_minutes or 0,
            points=a.points or 0,
            zero_reason=a.zero_reason,
            review_reason=a.review_reason,
            reviewed_at=utc(a.reviewed_at) if a.reviewed_at else None,
        )


class AttendanceQuery(PageQuery):
    status: AttendanceStatus | None = None


class AttendancePage(Page):
    items: list[AttendanceOut]


class ScanOut(BaseModel):
    direction: Direction
    already: bool = Field(description="True when the scan changed nothing (already checked in or out)")
    message: str = Field(description="What happened, in the user's language")
    activity_id: int
    activity_title: str
    attendance: AttendanceOut


class AttendanceIn(BaseModel):
    """An organiser's entry for one member: `in` or `out` by hand at `at` (default now), with a reason;
    or `paper`, both times from a paper sign-in sheet (补录, within 7 days after the end)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    member_id: Id
    kind: Literal["in", "out", "paper"]
    at: InTime | None = Field(default=None, description="For in / out: when (default: now)")
    checked_in_at: InTime | None = Field(default=None, description="For paper: when they came")
    checked_out_at: InTime | None = Field(default=None, description="For paper: when they left")
    reason: str = Field(default="", max_length=200, description="Why by hand (required for in / out)")


class AdjustItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Id = Field(description="Attendance id")
    minutes: int = Field(ge=0, le=1440, description="Credited minutes")
    reason: Reason


class RejectItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Id = Field(description="Attendance id")
    reason: Reason


class ReviewIn(BaseModel):
    """All or nothing: approve these attendances (or "all" waiting for review, except those adjusted or
    rejected here), adjust the credited minutes of some, reject some."""

    model_config = ConfigDict(extra="forbid")

    approve: Literal["all"] | Annotated[list[Id], Field(max_length=MAX_REVIEW)] = Field(default_factory=list)
    adjust: list[AdjustItem] = Field(default_factory=list, max_length=MAX_REVIEW)
    reject: list[RejectItem] = Field(default_factory=list, max_length=MAX_REVIEW)


class ReviewOut(BaseModel):
    approved: int
    adjusted: int
    rejected: int
    points: int = Field(description="Points credited by this review")
