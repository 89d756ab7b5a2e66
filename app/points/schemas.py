"""The points API's schemas: a member's points and the points rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from app.api.schemas import utc
from app.times import to_utc

from .labels import CATEGORIES, MISSED_CHECKOUT

Category = Literal["environment", "elderly", "safety", "culture", "civic", "other"]
Missed = Literal["nothing", "until_end"]
assert set(Category.__args__) == set(CATEGORIES)  # type: ignore[attr-defined]
assert set(Missed.__args__) == set(MISSED_CHECKOUT)  # type: ignore[attr-defined]


class PointsLineOut(BaseModel):
    time: AwareDatetime = Field(description="UTC, RFC 3339")
    kind: str = Field(description="Journal kind, e.g. hours")
    phase: Literal["posted", "pending", "post", "void"] = Field(
        description="pending: held for review; post: the review approved it; void: rejected; posted: final"
    )
    amount: int = Field(description="Change to the available points")
    pending_amount: int = Field(description="Change to the pending points")
    title: str = Field(description="In words, e.g. the activity's title")
    minutes: int | None = Field(description="Service minutes, for hours")
    activity_id: int | None
    attendance_id: int | None

    @classmethod
    def of(cls, line) -> PointsLineOut:
        return cls(
            time=utc(line.time),
            kind=line.kind,
            phase=line.phase,
            amount=line.amount,
            pending_amount=line.pending_amount,
            title=line.title or "",
            minutes=line.minutes,
            activity_id=line.activity_id,
            attendance_id=line.attendance_id,
        )


class ExpiringOut(BaseModel):
    points: int = Field(description="Points that expire at the end of that day unless spent first")
    expires_on: date = Field(description="The last day (Beijing) these points can be spent")


class MemberExpiryQuery(BaseModel):
    days: int = Field(default=365, ge=1, le=3660, description="How far ahead, in Beijing days")


class MemberExpiryOut(BaseModel):
    member_id: int
    as_of: date = Field(description="Today in Beijing")
    days: int = Field(description="How far ahead this looks, in days")
    total: int = Field(description="Points expiring within that many days unless spent first")
    expiring: list[ExpiringOut] = Field(description="By last day, soonest first")


class ForecastMonthOut(BaseModel):
    month: str = Field(description="A Beijing month, YYYY-MM", examples=["2027-03"])
    points: int = Field(description="Open points whose last day falls in this month (this month: also any past due)")
    members: int = Field(description="Members holding such points")


class ExpiryForecastOut(BaseModel):
    as_of: date = Field(description="Today in Beijing")
    months: list[ForecastMonthOut] = Field(description="This month and the next eleven, in order, zeros included")
    wallets_behind: int = Field(
        description="Wallets changed since the expiry job last refreshed the lots (counted as of that refresh)"
    )


class PointsOut(BaseModel):
    available: int = Field(description="Points you can spend")
    pending: int = Field(description="Points held until an organiser reviews your hours")
    posted: int = Field(description="Points posted to your wallet")
    lines: list[PointsLineOut] = Field(description="The latest lines, newest first")
    expiring: list[ExpiringOut] = Field(
        default_factory=list,
        description="Points that expire within 30 days, soonest first (the oldest points are spent first)",
    )


class RuleOut(BaseModel):
    id: int
    category: Category | Literal[""] = Field(description='"" is the district\'s default for every category')
    version: int
    effective_from: AwareDatetime
    points_per_hour: int
    rounding_minutes: int
    presence_percent: int
    missed_checkout: Missed
    grace_minutes: int
    reason: str
    created_at: AwareDatetime
    max_minutes_per_activity: int | None = Field(default=None, description="Minutes credited per activity at most")
    daily_points_cap: int | None = Field(default=None, description="Points of hours per member per day at most")
    monthly_points_cap: int | None = Field(default=None, description="Points of hours per member per month at most")

    @classmethod
    def of(cls, r) -> RuleOut:
        return cls(
            id=r.id,
            category=r.category,
            version=r.version,
            effective_from=utc(r.effective_from),
            points_per_hour=r.points_per_hour,
            rounding_minutes=r.rounding_minutes,
            presence_percent=r.presence_percent,
            missed_checkout=r.missed_checkout,
            grace_minutes=r.grace_minutes,
            reason=r.reason or "",
            created_at=utc(r.created_at),
            max_minutes_per_activity=r.max_minutes_per_activity,
            daily_points_cap=r.daily_points_cap,
            monthly_points_cap=r.monthly_points_cap,
        )


class RuleList(BaseModel):
    items: list[RuleOut] = Field(description="Every version, by category, newest version first")


def _naive_utc(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("out_of_range")  # a stable code (app/validation.py)
    return to_utc(value)


class RuleIn(BaseModel):
    """A new version of the district's rule for a category ("" = the default). It takes effect at
    effective_from (default now), never in the past."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Category | Literal[""] = ""
    points_per_hour: int = Field(ge=0, le=1000)
    rounding_minutes: int = Field(default=30, ge=1, le=240)
    presence_percent: int = Field(default=60, ge=0, le=100, description="0 turns the threshold off")
    missed_checkout: Missed = "nothing"
    grace_minutes: int = Field(default=60, ge=0, le=1440)
    effective_from: Annotated[datetime, AfterValidator(_naive_utc)] | None = Field(
        default=None,
        description="RFC 3339 date-time; with an offset it is that instant, without one Beijing time (UTC+8)",
    )
    reason: str = Field(default="", max_length=200)
    max_minutes_per_activity: int | None = Field(default=None, ge=1, le=1440, description="null: no cap")
    daily_points_cap: int | None = Field(default=None, ge=0, le=100_000, description="null: no cap")
    monthly_points_cap: int | None = Field(default=None, ge=0, le=100_000, description="null: no cap")


# --- awards (issue 9) ----------------------------------------------------------------------------------


class AwardItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: int = Field(ge=1, le=2**63 - 1)
    points: int = Field(ge=1, le=100_000)


class AwardIn(BaseModel):
    """Award points to one member or a list (all or none). Posted at once when the total is at most the
    district's threshold; otherwise pending until another district administrator approves."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Category
    reason: str = Field(min_length=1, max_length=200)
    items: list[AwardItemIn] = Field(min_length=1, max_length=5000)


class AwardLineOut(BaseModel):
    id: int
    member_id: int
    points: int
    status: Literal["pending", "posted", "rejected", "reversed"]
    reversal_reason: str | None = None

    @classmethod
    def of(cls, line) -> AwardLineOut:
        return cls(
            id=line.id,
            member_id=line.member_id,
            points=line.points,
            status=line.status,
            reversal_reason=line.reversal_reason,
        )


class AwardOut(BaseModel):
    id: int
    category: Category
    reason: str
    status: Literal["pending", "posted", "rejected"]
    total: int
    member_count: int
    threshold: int = Field(description="The district's threshold when it was proposed")
    proposer_user_id: int
    approver_user_id: int | None
    proposed_at: AwareDatetime
    decided_at: AwareDatetime | None
    decision_reason: str | None
    lines: list[AwardLineOut] | None = Field(default=None, description="Only when one award is read")

    @classmethod
    def of(cls, a, lines=None) -> AwardOut:
        return cls(
            id=a.id,
            category=a.category,
            reason=a.reason,
            status=a.status,
            total=a.total,
            member_count=a.member_count,
            threshold=a.threshold,
            proposer_user_id=a.proposer_user_id,
            approver_user_id=a.approver_user_id,
            proposed_at=utc(a.proposed_at),
            decided_at=utc(a.decided_at) if a.decided_at else None,
            decision_reason=a.decision_reason,
            lines=[AwardLineOut.of(x) for x in lines] if lines is not None else None,
        )


class AwardList(BaseModel):
    items: list[AwardOut] = Field(description="Newest first")


class AwardQuery(BaseModel):
    status: Literal["pending", "posted", "rejected"] | None = None


class AwardDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="", max_length=200, description="Required to reject or reverse")


class ReversalOut(BaseModel):
    points: int = Field(description="Points taken back")
