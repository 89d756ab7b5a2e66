"""The outlets area's errors. Codes are stable (API clients and the counter page match on them);
messages say what to do. Raise them with a message built by the caller (lazy text made str)."""

from app.errors import AppError, Conflict, Forbidden, NotFound


class OutletInvalid(AppError):
    """Bad input for an outlet, item, price, movement or count (the field is named)."""

    code = "outlet_invalid"
    status = 422


class InsufficientPoints(Conflict):
    """The member's available points do not cover the cart; `details` carry the shortfall."""

    code = "insufficient_points"


class OutOfStock(Conflict):
    """An item of the cart (or of a movement out) has fewer pieces on the shelf than asked."""

    code = "out_of_stock"


class ItemUnavailable(Conflict):
    """The item is not offered at this outlet, retired, or has no price yet."""

    code = "item_unavailable"


class LimitReached(Conflict):
    """The member's per-period limit of an item would be passed; the message says when it resets."""

    code = "limit_reached"


class TokenUsed(Conflict):
    """This QR code or short code already paid for a redemption: ask the member to refresh it."""

    code = "token_used"


class TokenExpired(AppError):
    code = "token_expired"
    status = 422


class MemberUnknown(AppError):
    """The code names nobody in this district (typed wrong, or another district's)."""

    code = "member_unknown"
    status = 422


class MemberSuspended(Conflict):
    code = "member_suspended"


class NotOutletStaff(Forbidden):
    """The signed-in user holds no role at this outlet that allows this."""

    code = "not_outlet_staff"


class OutletClosed(Conflict):
    code = "outlet_closed"


class CartKeyReused(Conflict):
    """The cart key was already used for a different cart."""

    code = "cart_key_reused"


class RefundPeriodOver(Conflict):
    code = "refund_period_over"


class AlreadyRefunded(Conflict):
    code = "already_refunded"


class OwnRedemption(Forbidden):
    """Nobody refunds a redemption they made themselves or that paid for their own goods."""

    code = "own_redemption"


class CountNotPending(Conflict):
    code = "count_not_pending"


class RedemptionNotFound(NotFound):
    code = "not_found"
