"""Outlets (爱心超市), their catalogue (items, versioned prices, availability per outlet), stock
movements and counts (盘点), redemptions (兑换) and refunds, and the per-district outlet settings.

Quantities of goods live in the ledger (accounts per outlet and item, app/outlets/accounts.py); the
rows here say who, why and what for, and carry the id of the journal that moved the goods (and points).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, Id, utcnow
from app.people.models import Member
from app.places.models import OrgUnit

from .labels import COUNT_STATUSES, ITEM_KINDS, LIMIT_PERIODS, MOVEMENT_KINDS, PENDING

OUTLET_SEGMENT = "o"  # an outlet's scope path: its unit's path + "o<id>/" (see Outlet.scope_path)


def outlet_path(unit_path: str, outlet_id: int) -> str:
    """Where an outlet sits for the permission check: one segment below its org unit, so the unit's
    and district's administrators reach it, and a grant on the outlet reaches nothing else."""
    return f"{unit_path}{OUTLET_SEGMENT}{outlet_id}/"


class OutletSettings(Base):
    """A district's outlet settings (one row per district, made when first changed)."""

    __tablename__ = "outlet_settings"
    __table_args__ = (CheckConstraint("refund_days >= 0 AND refund_days <= 365", name="refund_days"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)
    refund_days: Mapped[int] = mapped_column(Integer, default=7)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Outlet(Base):
    """A 爱心超市: belongs to a community or street, has an address and opening hours."""

    __tablename__ = "outlets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_outlets_org_unit_id", "org_unit_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    opening_hours: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    org_unit: Mapped[OrgUnit] = relationship()

    view_action = "outlet.view"

    @property
    def scope_path(self) -> str | None:
        return outlet_path(self.org_unit.path, self.id) if self.org_unit is not None else None


class Item(Base):
    """A catalogue item of the district: goods (counted in whole pieces) or a service."""

    __tablename__ = "outlet_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint(f"kind IN {ITEM_KINDS}", name="kind"),
        CheckConstraint(f"limit_period IS NULL OR limit_period IN {LIMIT_PERIODS}", name="limit_period"),
        CheckConstraint(
            "(limit_qty IS NULL) = (limit_period IS NULL) AND (limit_qty IS NULL OR limit_qty >= 1)",
            name="limit_pair",
        ),
        CheckConstraint("value_fen IS NULL OR value_fen >= 0", name="value_fen"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(50), default="")
    kind: Mapped[str] = mapped_column(String(16), default="goods")
    unit_name: Mapped[str] = mapped_column(String(16), default="")  # 袋, 瓶, 次: how a piece is called
    description: Mapped[str] = mapped_column(Text, default="")
    # A photo's stored name (the pages area stores and serves the file); None: no photo.
    photo: Mapped[str | None] = mapped_column(String(200))
    # What one piece is worth in money, in fen (for the stock value of the statement); None: unknown.
    value_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Per member: at most limit_qty pieces per limit_period (a Beijing calendar day/week/month/year).
    limit_qty: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    prices: Mapped[list[ItemPrice]] = relationship(back_populates="item", order_by="ItemPrice.version.desc()")

    # The catalogue is the district's: reads are checked without a target (any grant of the action).
    view_action = "outlet.catalogue.view"
    scope_path = None


class ItemPrice(Base):
    """One version of an item's price in points, in force from `effective_from`. Never changed; a
    price change is a new version, and a redemption line names the version it was made at."""

    __tablename__ = "outlet_item_prices"
    __table_args__ = (
        UniqueConstraint("item_id", "version"),
        CheckConstraint("points >= 1", name="points_positive"),
        Index("ix_outlet_item_prices_item_from", "item_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("outlet_items.id"))
    version: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    item: Mapped[Item] = relationship(back_populates="prices")


class OutletItem(Base):
    """An item offered at an outlet (availability) and when its stock counts as low there."""

    __tablename__ = "outlet_item_availability"
    __table_args__ = (
        UniqueConstraint("outlet_id", "item_id"),
        CheckConstraint("low_stock_at >= 0", name="low_stock_at"),
        Index("ix_outlet_item_availability_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("outlet_items.id"))
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    low_stock_at: Mapped[int] = mapped_column(Integer, default=5)

    item: Mapped[Item] = relationship()


class StockMovement(Base):
    """Goods in, between outlets, or out other than by redemption: one ledger journal each."""

    __tablename__ = "outlet_stock_movements"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint(f"kind IN {MOVEMENT_KINDS}", name="kind"),
        CheckConstraint("estimated_value_fen IS NULL OR estimated_value_fen >= 0", name="estimated_value"),
        CheckConstraint("(kind = 'transfer') = (to_outlet_id IS NOT NULL)", name="transfer_has_target"),
        Index("ix_outlet_stock_movements_outlet", "outlet_id", "created_at"),
        Index("ix_outlet_stock_movements_to_outlet", "to_outlet_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    kind: Mapped[str] = mapped_column(String(16))
    to_outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    donor: Mapped[str] = mapped_column(String(100), default="")  # 爱心企业 or person (donations)
    supplier: Mapped[str] = mapped_column(String(100), default="")  # purchases
    estimated_value_fen: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200), default="")  # write-off reason code or text
    note: Mapped[str] = mapped_column(String(500), default="")
    count_id: Mapped[int | None] = mapped_column(ForeignKey("outlet_stock_counts.id"))
    journal_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str | None] = mapped_column(String(100))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship(foreign_keys=[outlet_id])
    to_outlet: Mapped[Outlet | None] = relationship(foreign_keys=[to_outlet_id])
    lines: Mapped[list[StockMovementLine]] = relationship(back_populates="movement", order_by="StockMovementLine.id")

    view_action = "outlet.stock.view"

    @property
    def scope_path(self) -> str | None:
        return self.outlet.scope_path


class StockMovementLine(Base):
    """One item of a movement; `qty` is the signed change to the outlet's shelf (the transfer's
    source outlet for a transfer)."""

    __tablename__ = "outlet_stock_movement_lines"
    __table_args__ = (
        UniqueConstraint("movement_id", "item_id"),
        CheckConstraint("qty <> 0", name="qty_not_zero"),
        Index("ix_outlet_stock_movement_lines_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("outlet_stock_movements.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("outlet_items.id"))
    qty: Mapped[int] = mapped_column(Integer)

    movement: Mapped[StockMovement] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()


class StockCount(Base):
    """A stock count (盘点): counted numbers against the books; pending until a supervisor applies it,
    when each difference becomes one adjustment line of one movement."""

    __tablename__ = "outlet_stock_counts"
    __table_args__ = (
        CheckConstraint(f"status IN {COUNT_STATUSES}", name="status"),
        Index("ix_outlet_stock_counts_outlet", "outlet_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    note: Mapped[str] = mapped_column(String(500), default="")
    counted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship()
    lines: Mapped[list[StockCountLine]] = relationship(back_populates="count", order_by="StockCountLine.id")

    view_action = "outlet.stock.view"

    @property
    def scope_path(self) -> str | None:
        return self.outlet.scope_path


class StockCountLine(Base):
    """One item counted: what the books said when counted, what was on the shelf, and why they differ."""

    __tablename__ = "outlet_stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "item_id"),
        CheckConstraint("counted_qty >= 0 AND book_qty >= 0", name="quantities"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("outlet_stock_counts.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("outlet_items.id"))
    book_qty: Mapped[int] = mapped_column(Integer)
    counted_qty: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")

    count: Mapped[StockCount] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()

    @property
    def difference(self) -> int:
        return self.counted_qty - self.book_qty


class Redemption(Base):
    """A member's cart at an outlet, redeemed in one ledger journal (points member → outlet, goods
    shelf → redeemed). `key` is the cart's key (a double tap is one redemption); the QR token or
    short code that identified the member is consumed by it (unique per district)."""

    __tablename__ = "outlet_redemptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        UniqueConstraint("tenant_id", "token_digest"),
        UniqueConstraint("member_code_id"),
        CheckConstraint("total_points >= 0", name="total_points"),
        Index("ix_outlet_redemptions_outlet", "outlet_id", "created_at"),
        Index("ix_outlet_redemptions_member", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 (hex) of the member's QR token that was scanned; None when identified by a short code.
    token_digest: Mapped[str | None] = mapped_column(String(64))
    member_code_id: Mapped[int | None] = mapped_column(ForeignKey("member_codes.id"))
    total_points: Mapped[int] = mapped_column(Integer)
    journal_id: Mapped[int] = mapped_column(BigInteger)
    request_hash: Mapped[str] = mapped_column(String(64))  # the cart, to tell a retry from another cart
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship()
    member: Mapped[Member] = relationship()
    lines: Mapped[list[RedemptionLine]] = relationship(back_populates="redemption", order_by="RedemptionLine.id")
    refunds: Mapped[list[Refund]] = relationship(back_populates="redemption", order_by="Refund.id")

    view_action = "outlet.redemption.view"

    @property
    def scope_path(self) -> str | None:
        return self.outlet.scope_path

    @property
    def owner_member_id(self) -> int:
        return self.member_id


class RedemptionLine(Base):
    """One item of a redemption at the price version in force then."""

    __tablename__ = "outlet_redemption_lines"
    __table_args__ = (
        UniqueConstraint("redemption_id", "item_id"),
        CheckConstraint("qty >= 1 AND unit_points >= 1", name="qty_and_price"),
        CheckConstraint("refunded_qty >= 0 AND refunded_qty <= qty", name="refunded_qty"),
        Index("ix_outlet_redemption_lines_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("outlet_redemptions.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("outlet_items.id"))
    price_id: Mapped[int] = mapped_column(ForeignKey("outlet_item_prices.id"))
    item_name: Mapped[str] = mapped_column(String(100))  # as it was called at the counter
    unit_points: Mapped[int] = mapped_column(Integer)
    qty: Mapped[int] = mapped_column(Integer)
    refunded_qty: Mapped[int] = mapped_column(Integer, default=0)

    redemption: Mapped[Redemption] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship()

    @property
    def points(self) -> int:
        return self.unit_points * self.qty


class Refund(Base):
    """A supervisor's refund of a whole redemption or some of its lines: one reversing journal."""

    __tablename__ = "outlet_refunds"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("points >= 0", name="points"),
        Index("ix_outlet_refunds_redemption_id", "redemption_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    redemption_id: Mapped[int] = mapped_column(ForeignKey("outlet_redemptions.id"))
    reason: Mapped[str] = mapped_column(String(200))
    points: Mapped[int] = mapped_column(Integer)
    journal_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(100))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    redemption: Mapped[Redemption] = relationship(back_populates="refunds")
    lines: Mapped[list[RefundLine]] = relationship(back_populates="refund", order_by="RefundLine.id")


class RefundLine(Base):
    __tablename__ = "outlet_refund_lines"
    __table_args__ = (
        UniqueConstraint("refund_id", "redemption_line_id"),
        CheckConstraint("qty >= 1", name="qty"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("outlet_refunds.id"))
    redemption_line_id: Mapped[int] = mapped_column(ForeignKey("outlet_redemption_lines.id"))
    qty: Mapped[int] = mapped_column(Integer)

    refund: Mapped[Refund] = relationship(back_populates="lines")
    redemption_line: Mapped[RedemptionLine] = relationship()
