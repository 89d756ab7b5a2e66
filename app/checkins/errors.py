"""The checkins area's errors. Codes are stable (API clients match on them); messages say what to do."""

from app.errors import AppError, Conflict, Forbidden


class NotAPartyMember(Forbidden):
    code = "not_a_party_member"


class AlreadyCheckedInToday(Conflict):
    code = "already_checked_in_today"


class OutsideRadius(AppError):
    code = "outside_radius"
    status = 422


class LocationRequired(AppError):
    code = "location_required"
    status = 422


class SiteInvalid(AppError):
    code = "site_invalid"
    status = 422


class SiteExists(Conflict):
    code = "site_exists"


class SiteClosed(Conflict):
    code = "site_closed"


class VisitInvalid(AppError):
    code = "visit_invalid"
    status = 422


class NotResponsible(Forbidden):
    code = "not_responsible"


class OwnVisit(Forbidden):
    """A grid administrator confirming their own household visit: another must."""

    code = "own_visit"


class AlreadyDecided(Conflict):
    code = "already_decided"
