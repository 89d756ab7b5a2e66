"""The gridreports area's errors. Codes are stable (API clients match on them); messages say what to do."""

from app.errors import AppError, Conflict


class ReportInvalid(AppError):
    code = "report_invalid"
    status = 422


class PhotoInvalid(AppError):
    code = "photo_invalid"
    status = 422


class GridRequired(AppError):
    code = "grid_required"
    status = 422


class OwnReport(AppError):
    """A grid administrator verifying their own report (its points would be theirs): another must."""

    code = "own_report"
    status = 403


class AlreadyTriaged(Conflict):
    code = "already_triaged"


class DuplicateInvalid(AppError):
    code = "duplicate_invalid"
    status = 422


class ReasonRequired(AppError):
    code = "reason_required"
    status = 422


class SettingInvalid(AppError):
    code = "setting_invalid"
    status = 422
