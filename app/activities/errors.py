"""The activities area's errors. Codes are stable (API clients match on them); messages say what to do."""

from app.errors import AppError, Conflict, Forbidden


class ActivityInvalid(AppError):
    code = "activity_invalid"
    status = 422


class ActivityFull(Conflict):
    code = "activity_full"


class AlreadySignedUp(Conflict):
    code = "already_signed_up"


class NotSignedUp(Conflict):
    code = "not_signed_up"


class SignupClosed(Conflict):
    code = "signup_closed"


class NotEligible(Forbidden):
    code = "not_eligible"


class NotOpen(Conflict):
    """The activity is a draft or cancelled, or the scan is outside its times."""

    code = "not_open"


class OutsideRadius(AppError):
    code = "outside_radius"
    status = 422


class LocationRequired(AppError):
    code = "location_required"
    status = 422


class NotCheckedIn(Conflict):
    code = "not_checked_in"


class OwnAttendance(Forbidden):
    code = "own_attendance"


class ReviewInvalid(AppError):
    code = "review_invalid"
    status = 422


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
