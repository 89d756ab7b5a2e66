"""The outlets API's request and response bodies."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from app.api.schemas import Id, Page, PageQuery, utc

from .labels import COUNT_STATUSES, ITEM_KINDS, LIMIT_PERIODS, WRITE_OFF_REASONS

Qty = Field(ge=1, le=1_000_000)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- outlets ------------------------------------------------------------------------------------------


class OutletIn(_In):
    unit_id: Id = Field(description="The community or street the outlet belongs to")
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200)
    opening_hours: str = Field(default="", max_length=200, description="Free text, e.g. 周六 9:00-17:00")


class OutletOut(BaseModel):
    id: int
    name: str
    unit_id: int
    unit_name: str
    address: str
    opening_hours: str
    active: bool

    @classmethod
    def of(cls, o) -> OutletOut:
        return cls(
            id=o.id,
            name=o.name,
            unit_id=o.org_unit_id,
            unit_name=o.org_unit.name,
            address=o.address,
            opening_hours=o.opening_hours,
            active=o.active,
        )


class OutletPage(Page):
    items: list[OutletOut]


# --- catalogue ----------------------------------------------------------------------------------------


class ItemIn(_In):
    name: str = Field(min_length=1, max_length=100)
    points: int = Field(ge=1, le=100_000, description="The first price, in points")
    category: str = Field(default="", max_length=50)
    kind: Literal[ITEM_KINDS] = "goods"  # type: ignore[valid-type]
    unit_name: str = Field(default="", max_length=16, description="How a piece is called: 袋, 瓶, 次")
    description: str = Field(default="", max_length=2000)
    limit_qty: int | None = Field(default=None, ge=1, le=10_000, description="Per member, with limit_period")
    limit_period: Literal[LIMIT_PERIODS] | None = None  # type: ignore[valid-type]
    value_fen: int | None = Field(default=None, ge=0, le=10**9, description="What one piece is worth, in fen")


class ItemOut(BaseModel):
    id: int
    name: str
    category: str
    kind: str
    unit_name: str
    description: str
    limit_qty: int | None
    limit_period: str | None
    value_fen: int | None
    active: bool
    points: int | None = Field(description="The price in force now")

    @classmethod
    def of(cls, i, points: int | None) -> ItemOut:
        return cls(
            id=i.id,
            name=i.name,
            category=i.category,
            kind=i.kind,
            unit_name=i.unit_name,
            description=i.description,
            limit_qty=i.limit_qty,
            limit_period=i.limit_period,
            value_fen=i.value_fen,
            active=i.active,
            points=points,
        )


class ItemPage(Page):
    items: list[ItemOut]


class ItemQuery(PageQuery):
    q: str = Field(default="", max_length=100, description="Part of the name")


class PriceIn(_In):
    points: int = Field(ge=1, le=100_000)
    effective_from: AwareDatetime | None = Field(default=None, description="Default now; never in the past")
    reason: str = Field(default="", max_length=200)


class PriceOut(BaseModel):
    item_id: int
    version: int
    points: int
    effective_from: AwareDatetime

    @classmethod
    def of(cls, p) -> PriceOut:
        return cls(item_id=p.item_id, version=p.version, points=p.points, effective_from=utc(p.effective_from))


class AvailabilityIn(_In):
    item_id: Id
    available: bool = True
    low_stock_at: int = Field(default=5, ge=0, le=100_000, description="Stock at or below this is low")


class OfferOut(BaseModel):
    item_id: int
    name: str
    category: str
    kind: str
    unit_name: str
    points: int | None
    stock: int | None = Field(description="Pieces on this outlet's shelf (null for services)")
    available: bool
    low: bool
    limit_qty: int | None
    limit_period: str | None

    @classmethod
    def of(cls, o) -> OfferOut:
        i = o.item
        return cls(
            item_id=i.id,
            name=i.name,
            category=i.category,
            kind=i.kind,
            unit_name=i.unit_name,
            points=o.price.points if o.price else None,
            stock=o.stock,
            available=o.available,
            low=o.low,
            limit_qty=i.limit_qty,
            limit_period=i.limit_period,
        )


class OfferList(BaseModel):
    items: list[OfferOut]


# --- stock --------------------------------------------------------------------------------------------


class LineIn(_In):
    item_id: Id
    qty: int = Qty


class MovementIn(_In):
    kind: Literal["donation", "purchase", "transfer", "write_off"]
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    donor: str = Field(default="", max_length=100, description="Donations: the business or person (爱心企业)")
    supplier: str = Field(default="", max_length=100, description="Purchases")
    estimated_value_fen: int | None = Field(default=None, ge=0, le=10**12, description="Donations, in fen")
    to_outlet_id: Id | None = Field(default=None, description="Transfers: the outlet receiving the goods")
    reason: Literal[WRITE_OFF_REASONS] | None = Field(default=None, description="Write-offs")  # type: ignore[valid-type]
    note: str = Field(default="", max_length=500)
    key: str | None = Field(default=None, min_length=1, max_length=100, description="The same key again moves nothing")


class MovementLineOut(BaseModel):
    item_id: int
    name: str
    qty: int = Field(description="Change to this outlet's shelf (a transfer's source)")


class MovementOut(BaseModel):
    id: int
    outlet_id: int
    kind: str
    to_outlet_id: int | None
    donor: str
    supplier: str
    estimated_value_fen: int | None
    reason: str
    note: str
    journal_id: int
    created_at: AwareDatetime
    lines: list[MovementLineOut]

    @classmethod
    def of(cls, m) -> MovementOut:
        return cls(
            id=m.id,
            outlet_id=m.outlet_id,
            kind=m.kind,
            to_outlet_id=m.to_outlet_id,
            donor=m.donor,
            supplier=m.supplier,
            estimated_value_fen=m.estimated_value_fen,
            reason=m.reason,
            note=m.note,
            journal_id=m.journal_id,
            created_at=utc(m.created_at),
            lines=[MovementLineOut(item_id=x.item_id, name=x.item.name, qty=x.qty) for x in m.lines],
        )


class MovementPage(Page):
    items: list[MovementOut]


class CountLineIn(_In):
    item_id: Id
    counted_qty: int = Field(ge=0, le=1_000_000)
    reason: str = Field(default="", max_length=200, description="Why it differs from the books")


class CountIn(_In):
    lines: list[CountLineIn] = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=500)
    apply: bool = Field(default=False, description="Apply at once (supervisors); otherwise it waits")


class CountLineOut(BaseModel):
    item_id: int
    name: str
    book_qty: int
    counted_qty: int
    difference: int
    reason: str


class CountOut(BaseModel):
    id: int
    outlet_id: int
    status: Literal[COUNT_STATUSES]  # type: ignore[valid-type]
    note: str
    counted_at: AwareDatetime
    decided_at: AwareDatetime | None
    lines: list[CountLineOut]

    @classmethod
    def of(cls, c) -> CountOut:
        return cls(
            id=c.id,
            outlet_id=c.outlet_id,
            status=c.status,
            note=c.note,
            counted_at=utc(c.counted_at),
            decided_at=utc(c.decided_at) if c.decided_at else None,
            lines=[
                CountLineOut(
                    item_id=x.item_id,
                    name=x.item.name,
                    book_qty=x.book_qty,
                    counted_qty=x.counted_qty,
                    difference=x.difference,
                    reason=x.reason,
                )
                for x in c.lines
            ],
        )


class ApplyCountIn(_In):
    reasons: dict[str, str] = Field(
        default_factory=dict, max_length=500, description="Item id → reason, for differences without one yet"
    )


_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?([eE][-+]?\d+)?")


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: AwareDatetime | None = Field(default=None, description="The books as they stood then (default now)")
    since: AwareDatetime | None = Field(default=None, description="Sum the movements from then to `at`")

    @field_validator("at", "since", mode="before")
    @classmethod
    def _a_written_time(cls, value):
        # Pydantic would read a bare number as seconds since 1970; the document says date-time.
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
            raise ValueError("a date-time with its offset, such as 2026-12-05T09:00:00+08:00")
        return value


class ReportLineOut(BaseModel):
    item_id: int
    name: str
    book_qty: int
    received: int
    transferred: int
    redeemed: int
    written_off: int
    adjusted: int
    counted_qty: int | None
    count_book_qty: int | None
    counted_at: AwareDatetime | None
    difference: int | None
    reconciled: bool
    value_fen: int | None


class StockReportOut(BaseModel):
    outlet_id: int
    at: AwareDatetime
    since: AwareDatetime | None
    matches: bool = Field(description="账物相符: no count differs from the books without being applied")
    value_fen: int
    lines: list[ReportLineOut]

    @classmethod
    def of(cls, r) -> StockReportOut:
        return cls(
            outlet_id=r.outlet_id,
            at=utc(r.at),
            since=utc(r.since) if r.since else None,
            matches=r.matches,
            value_fen=r.value_fen,
            lines=[
                ReportLineOut(
                    item_id=x.item_id,
                    name=x.name,
                    book_qty=x.book_qty,
                    received=x.received,
                    transferred=x.transferred,
                    redeemed=x.redeemed,
                    written_off=x.written_off,
                    adjusted=x.adjusted,
                    counted_qty=x.counted_qty,
                    count_book_qty=x.count_book_qty,
                    counted_at=utc(x.counted_at) if x.counted_at else None,
                    difference=x.difference,
                    reconciled=x.reconciled,
                    value_fen=x.value,
                )
                for x in r.lines
            ],
        )


# --- the counter --------------------------------------------------------------------------------------


class _Identifies(_In):
    member_token: str | None = Field(default=None, min_length=1, max_length=120, description="The scanned QR code")
    member_code: str | None = Field(default=None, min_length=1, max_length=20, description="The short code read out")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.member_token is None) == (self.member_code is None):
            raise ValueError("give member_token or member_code (one of the two)")
        return self


class LookupIn(_Identifies):
    pass


class LookupOut(BaseModel):
    member_id: int
    name_masked: str
    available_points: int


class CartLineIn(_In):
    item_id: Id
    qty: int = Field(ge=1, le=99)


class RedemptionIn(_Identifies):
    lines: list[CartLineIn] = Field(min_length=1, max_length=50)
    key: str = Field(min_length=1, max_length=100, description="The cart's key: the same cart again redeems once")


class ReceiptLineOut(BaseModel):
    line_id: int
    item_id: int
    name: str
    qty: int
    unit_points: int
    points: int
    refunded_qty: int


class ReceiptOut(BaseModel):
    id: int
    outlet_id: int
    outlet_name: str
    member_name_masked: str
    total_points: int
    refunded_points: int
    available_after: int = Field(description="The member's available points now")
    created_at: AwareDatetime
    lines: list[ReceiptLineOut]

    @classmethod
    def of(cls, r, rec) -> ReceiptOut:
        return cls(
            id=r.id,
            outlet_id=r.outlet_id,
            outlet_name=rec.outlet_name,
            member_name_masked=rec.member_name_masked,
            total_points=rec.total_points,
            refunded_points=rec.refunded_points,
            available_after=rec.available_after,
            created_at=utc(rec.created_at),
            lines=[
                ReceiptLineOut(
                    line_id=line.id,
                    item_id=line.item_id,
                    name=line.item_name,
                    qty=line.qty,
                    unit_points=line.unit_points,
                    points=line.points,
                    refunded_qty=line.refunded_qty,
                )
                for line in r.lines
            ],
        )


class RefundLineIn(_In):
    line_id: Id
    qty: int = Field(ge=1, le=99)


class RefundIn(_In):
    reason: str = Field(min_length=1, max_length=200)
    lines: list[RefundLineIn] | None = Field(
        default=None, min_length=1, max_length=50, description="Omit: everything not yet refunded"
    )
    key: str | None = Field(default=None, min_length=1, max_length=100)


class RefundOut(BaseModel):
    id: int
    redemption_id: int
    points: int
    reason: str
    created_at: AwareDatetime
    receipt: ReceiptOut


def naive(value: datetime | None, field: str = "at") -> datetime | None:
    """An API time (with offset) as stored: naive UTC. A time that has no UTC equivalent (year 1 with a
    positive offset, year 9999 with a negative one) is input to fix, not a server error."""
    from datetime import UTC

    from flask_babel import lazy_gettext as _l

    from .errors import OutletInvalid

    if value is None:
        return None
    try:
        out = value.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        out = None
    if out is None or not 1900 <= out.year <= 9000:
        raise OutletInvalid(str(_l("Give a date between the years 1900 and 9000.")), field=field)
    return out


class SettingsIn(_In):
    refund_days: int = Field(ge=0, le=365, description="Days after a redemption a supervisor may refund it; 0: none")


class SettingsOut(BaseModel):
    refund_days: int = Field(description="Days after a redemption a supervisor may refund it (default 7)")
