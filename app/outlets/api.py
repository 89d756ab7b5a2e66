"""The outlets area's JSON API (app/outlets/blueprint.py routes it): outlets, the catalogue and prices,
availability, stock movements, counts and the stock report, the counter (look up a member, redeem) and
refunds. Every outlet-bound call answers 404 for an outlet outside the user's reach and 403
`not_outlet_staff` where the user's role at the outlet does not allow it."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app import access
from app.api.blueprints import page_of
from app.api.openapi import WRITE_SECURITY, api, responses, write_responses
from app.api.schemas import ErrorOut, PageQuery, utc
from app.db import get_session, utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.places.api import unit_in_body

from . import catalogue, refunds, stock
from . import outlets as outlet_services
from . import redemption as counter
from .errors import OutletInvalid
from .labels import DONATION, PURCHASE, TRANSFER, WRITE_OFF
from .limits import lookup_limit
from .models import Item, Outlet, Redemption, StockMovement, StockMovementLine
from .schemas import (
    ApplyCountIn,
    AvailabilityIn,
    CountIn,
    CountOut,
    ItemIn,
    ItemOut,
    ItemPage,
    ItemQuery,
    LookupIn,
    LookupOut,
    MovementIn,
    MovementOut,
    MovementPage,
    OfferList,
    OfferOut,
    OutletIn,
    OutletOut,
    OutletPage,
    PriceIn,
    PriceOut,
    ReceiptOut,
    RedemptionIn,
    RefundIn,
    RefundOut,
    ReportQuery,
    SettingsIn,
    SettingsOut,
    StockReportOut,
    naive,
)

TAGS = ["outlets"]
FORBIDDEN = (ErrorOut, "Not allowed")
UNPROCESSABLE = (ErrorOut, "Input to fix, or a code that cannot be used (expired, not genuine)")


def _outlet(outlet_id: int, action: str) -> Outlet:
    return outlet_services.get_outlet(get_session(), current_user, outlet_id, action)


def _district_wide(action: str) -> None:
    """Catalogue changes are the district's: a district-wide grant of `action` is needed."""
    if not any(s.path is None for s in access.scopes_for(current_user, action)):
        raise Forbidden(_("Only the district's administrators change the catalogue."))


# --- the district's settings ---------------------------------------------------------------------------


@api.validate(resp=responses(HTTP_200=SettingsOut, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="getOutletSettings")
def get_settings():
    """The district's outlet settings: the refund period in days (anyone who sees outlets)."""
    access.require(current_user, "outlet.view")
    return SettingsOut(refund_days=outlet_services.refund_days(get_session(), current_user.tenant_id))


@api.validate(
    json=SettingsIn,
    resp=write_responses(HTTP_200=SettingsOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="changeOutletSettings",
)
def change_settings():
    """Set the district's refund period (district administrators: `outlet.settings.edit`); audited."""
    data: SettingsIn = request.context.json
    access.require(current_user, "outlet.settings.edit")
    row = outlet_services.change_settings(
        get_session(), current_user.tenant_id, current_user.user_id, refund_days=data.refund_days
    )
    return SettingsOut(refund_days=row.refund_days)


# --- outlets ------------------------------------------------------------------------------------------


@api.validate(query=PageQuery, resp=responses(HTTP_200=OutletPage), tags=TAGS, operation_id="listOutlets")
def list_outlets():
    """The outlets you can see (staff: their own outlet), by name."""
    return page_of(outlet_services.outlets_query(current_user), request.context.query, OutletOut, OutletPage)


@api.validate(
    json=OutletIn,
    resp=write_responses(HTTP_201=OutletOut),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createOutlet",
)
def create_outlet():
    """A new outlet of a community or street you administer."""
    data: OutletIn = request.context.json
    access.require(current_user, "outlet.edit")
    unit = unit_in_body(data.unit_id, "unit_id", "outlet.edit")
    outlet = outlet_services.create_outlet(
        get_session(), current_user.tenant_id, current_user.user_id, unit, data.name, data.address, data.opening_hours
    )
    return OutletOut.of(outlet), 201, {"Location": url_for(".get_outlet", outlet_id=outlet.id)}


@api.validate(resp=responses(HTTP_200=OutletOut), tags=TAGS, operation_id="getOutlet")
def get_outlet(outlet_id: int):
    return OutletOut.of(_outlet(outlet_id, "outlet.view"))


@api.validate(resp=responses(HTTP_200=OfferList, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="outletCatalogue")
def outlet_catalogue(outlet_id: int):
    """The items offered at the outlet with their price now and the pieces on its shelf."""
    outlet = _outlet(outlet_id, "outlet.catalogue.view")
    return OfferList(items=[OfferOut.of(o) for o in catalogue.offers(get_session(), outlet)])


@api.validate(
    json=AvailabilityIn,
    resp=write_responses(HTTP_200=OfferList, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="setOutletAvailability",
)
def set_availability(outlet_id: int):
    """Offer an item at the outlet (or stop offering it), with its low-stock level."""
    data: AvailabilityIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    outlet = _outlet(outlet_id, "outlet.view")
    _district_wide("outlet.catalogue.edit")
    item = _item_in_body(data.item_id)
    catalogue.set_availability(db, outlet, item, available=data.available, low_stock_at=data.low_stock_at)
    return OfferList(items=[OfferOut.of(o) for o in catalogue.offers(db, outlet, include_unavailable=True)])


# --- catalogue ----------------------------------------------------------------------------------------


def _item_in_body(item_id: int) -> Item:
    try:
        return catalogue.get_item(get_session(), current_user.tenant_id, item_id)
    except NotFound:
        raise ValidationFailed(
            _("Some fields need fixing."),
            details=[{"field": "item_id", "code": "unknown", "message": _("No such item in the catalogue.")}],
        ) from None


@api.validate(
    query=ItemQuery, resp=responses(HTTP_200=ItemPage, HTTP_403=FORBIDDEN), tags=TAGS, operation_id="listItems"
)
def list_items():
    """The district's catalogue, by category and name, with each item's price now."""
    access.require(current_user, "outlet.catalogue.view")
    query: ItemQuery = request.context.query
    stmt = select(Item).where(Item.tenant_id == current_user.tenant_id).order_by(Item.category, Item.name, Item.id)
    if query.q:
        stmt = stmt.where(Item.name.contains(query.q, autoescape=True))
    page = page_of(stmt, query, _ItemWithPrice, ItemPage)
    return page


class _ItemWithPrice:
    @staticmethod
    def of(item):
        price = catalogue.prices_at(get_session(), [item.id], utcnow()).get(item.id)
        return ItemOut.of(item, price.points if price else None)


@api.validate(
    json=ItemIn,
    resp=write_responses(HTTP_201=ItemOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createItem",
)
def create_item():
    """A new catalogue item with its first price."""
    data: ItemIn = request.context.json
    _district_wide("outlet.catalogue.edit")
    item = catalogue.create_item(get_session(), current_user.tenant_id, current_user.user_id, **data.model_dump())
    return ItemOut.of(item, data.points), 201


@api.validate(
    json=PriceIn,
    resp=write_responses(HTTP_201=PriceOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="changeItemPrice",
)
def change_price(item_id: int):
    """A new price version from `effective_from` (default now); redemptions keep the price they were made at."""
    data: PriceIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    access.require(current_user, "outlet.catalogue.view")
    item = catalogue.get_item(db, current_user.tenant_id, item_id)
    _district_wide("outlet.catalogue.edit")
    price = catalogue.change_price(
        db,
        item,
        current_user.user_id,
        data.points,
        effective_from=naive(data.effective_from, "effective_from"),
        reason=data.reason,
    )
    return PriceOut.of(price), 201


# --- stock --------------------------------------------------------------------------------------------


@api.validate(
    json=MovementIn,
    resp=write_responses(HTTP_201=MovementOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="createStockMovement",
)
def create_movement(outlet_id: int):
    """Goods in (donation, purchase), out to another outlet (transfer) or written off, in one journal.
    Errors: `out_of_stock`, `outlet_invalid`, `outlet_closed`."""
    data: MovementIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    lines = [(x.item_id, x.qty) for x in data.lines]
    uid = current_user.user_id
    if data.kind in (DONATION, PURCHASE):
        outlet = _outlet(outlet_id, "outlet.stock.receive")
        m = stock.receive(
            db,
            outlet,
            uid,
            data.kind,
            lines,
            donor=data.donor,
            supplier=data.supplier,
            estimated_value_fen=data.estimated_value_fen,
            note=data.note,
            key=data.key,
        )
    elif data.kind == TRANSFER:
        outlet = _outlet(outlet_id, "outlet.stock.receive")
        target = db.get(Outlet, data.to_outlet_id) if data.to_outlet_id else None
        if target is None or target.tenant_id != current_user.tenant_id:
            raise OutletInvalid(_("Choose the outlet that receives the goods."), field="to_outlet_id")
        m = stock.transfer(db, outlet, target, uid, lines, note=data.note, key=data.key)
    else:
        assert data.kind == WRITE_OFF
        outlet = _outlet(outlet_id, "outlet.stock.adjust")
        if data.reason is None:
            raise OutletInvalid(_("Choose why the goods are written off."), field="reason")
        m = stock.write_off(db, outlet, uid, lines, reason=data.reason, note=data.note, key=data.key)
    return MovementOut.of(m), 201


@api.validate(
    query=PageQuery,
    resp=responses(HTTP_200=MovementPage, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="listStockMovements",
)
def list_movements(outlet_id: int):
    """The outlet's stock movements (in, out, transfers either way, adjustments), newest first."""
    outlet = _outlet(outlet_id, "outlet.stock.view")
    stmt = (
        select(StockMovement)
        .options(selectinload(StockMovement.lines).selectinload(StockMovementLine.item))
        .where(or_(StockMovement.outlet_id == outlet.id, StockMovement.to_outlet_id == outlet.id))
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc())
    )
    return page_of(stmt, request.context.query, MovementOut, MovementPage)  # type: ignore[attr-defined]


@api.validate(
    json=CountIn,
    resp=write_responses(HTTP_201=CountOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="recordStockCount",
)
def record_count(outlet_id: int):
    """A stock count (盘点): counted pieces per item against the books. It waits for a supervisor unless
    `apply` (each difference then becomes an adjustment with its reason)."""
    data: CountIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    outlet = _outlet(outlet_id, "outlet.stock.count")
    if data.apply:
        _outlet(outlet_id, "outlet.stock.adjust")
    count = stock.record_count(
        db,
        outlet,
        current_user.user_id,
        [(x.item_id, x.counted_qty) for x in data.lines],
        reasons={x.item_id: x.reason for x in data.lines if x.reason},
        note=data.note,
    )
    if data.apply:
        stock.apply_count(db, count, current_user.user_id)
    return CountOut.of(count), 201


@api.validate(
    json=ApplyCountIn,
    resp=write_responses(HTTP_200=CountOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="applyStockCount",
)
def apply_count(count_id: int):
    """Apply a pending count's differences as adjustments (supervisors). Error: `count_not_pending`."""
    data: ApplyCountIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    count = stock.get_count(db, current_user.tenant_id, count_id)
    _outlet(count.outlet_id, "outlet.stock.adjust")
    reasons = {}
    for k, v in data.reasons.items():
        if not k.isdecimal() or len(k) > 19:
            raise OutletInvalid(_("Reasons are given per item id."), field="reasons")
        reasons[int(k)] = v[:200]
    stock.apply_count(db, count, current_user.user_id, reasons=reasons)
    return CountOut.of(count)


@api.validate(
    query=ReportQuery,
    resp=responses(HTTP_200=StockReportOut, HTTP_403=FORBIDDEN),
    tags=TAGS,
    operation_id="stockReport",
)
def stock_report(outlet_id: int):
    """账物相符: per item, the pieces on the shelf by the books at `at`, the movements since `since`,
    and the latest count with its difference."""
    query: ReportQuery = request.context.query  # type: ignore[attr-defined]
    outlet = _outlet(outlet_id, "outlet.stock.view")
    at, since = naive(query.at), naive(query.since, "since")
    return StockReportOut.of(stock.stock_report(get_session(), outlet, at=at, since=since))


# --- the counter --------------------------------------------------------------------------------------


@api.validate(
    json=LookupIn,
    resp=write_responses(HTTP_200=LookupOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="lookupMemberAtCounter",
)
@lookup_limit
def lookup_member(outlet_id: int):
    """Who a scanned QR code or a short code names (masked name) and their available points; consumes
    nothing. Errors: `token_expired`, `token_used`, `member_suspended`, `member_unknown`."""
    data: LookupIn = request.context.json  # type: ignore[attr-defined]
    _outlet(outlet_id, "outlet.redeem")
    seen = counter.member_at_counter(
        get_session(), current_user.tenant_id, member_token=data.member_token, member_code=data.member_code
    )
    return LookupOut(member_id=seen.member_id, name_masked=seen.name_masked, available_points=seen.available_points)


@api.validate(
    json=RedemptionIn,
    resp=write_responses(HTTP_201=ReceiptOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="redeem",
)
@lookup_limit
def redeem(outlet_id: int):
    """Redeem a cart for the member the QR token or short code names: one journal for points and
    goods; the same `key` again returns the same receipt. Errors: `insufficient_points` (details:
    shortfall), `out_of_stock`, `limit_reached` (details: resets_at), `item_unavailable`, `token_used`,
    `token_expired`, `member_suspended`, `cart_key_reused`, `not_outlet_staff`."""
    data: RedemptionIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    outlet = _outlet(outlet_id, "outlet.redeem")
    r = counter.redeem(
        db,
        outlet,
        current_user.user_id,
        [(x.item_id, x.qty) for x in data.lines],
        data.key,
        member_token=data.member_token,
        member_code=data.member_code,
        points_shards=int(current_app.config.get("OUTLET_POINTS_SHARDS") or 1),
    )
    if r.outlet_id != outlet.id:
        raise OutletInvalid(_("This cart key was used at another outlet. Start a new cart."), field="key")
    return ReceiptOut.of(r, counter.receipt(db, r)), 201, {"Location": url_for(".get_redemption", redemption_id=r.id)}


def _redemption(redemption_id: int) -> Redemption:
    db = get_session()
    r = counter.get_redemption(db, current_user.tenant_id, redemption_id)
    if r is None or not access.can(current_user, "outlet.redemption.view", r):
        raise NotFound(_("Not found. It may have been moved, or you may not have access to it."))
    return r


@api.validate(resp=responses(HTTP_200=ReceiptOut), tags=TAGS, operation_id="getRedemption")
def get_redemption(redemption_id: int):
    """A redemption's receipt (its outlet's staff, and the member themself)."""
    r = _redemption(redemption_id)
    return ReceiptOut.of(r, counter.receipt(get_session(), r))


@api.validate(
    json=RefundIn,
    resp=write_responses(HTTP_201=RefundOut, HTTP_422=UNPROCESSABLE),
    tags=TAGS,
    security=WRITE_SECURITY,
    operation_id="refundRedemption",
)
def refund_redemption(redemption_id: int):
    """Refund a whole redemption or some lines, with a reason (supervisors; within the district's
    refund period). Errors: `already_refunded`, `refund_period_over`, `own_redemption`, `not_outlet_staff`."""
    data: RefundIn = request.context.json  # type: ignore[attr-defined]
    db = get_session()
    r = _redemption(redemption_id)
    _outlet(r.outlet_id, "outlet.refund")
    row = refunds.refund(
        db,
        r,
        current_user.user_id,
        current_user.member_id,
        lines=[(x.line_id, x.qty) for x in data.lines] if data.lines is not None else None,
        reason=data.reason,
        key=data.key,
    )
    db.refresh(r)
    return (
        RefundOut(
            id=row.id,
            redemption_id=r.id,
            points=row.points,
            reason=row.reason,
            created_at=utc(row.created_at),
            receipt=ReceiptOut.of(r, counter.receipt(db, r)),
        ),
        201,
    )
