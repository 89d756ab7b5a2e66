"""Beijing time for people, UTC in the database: every timestamp is stored as naive UTC, and entered and
shown in Beijing time (China keeps one offset, UTC+8, all year)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))


def to_utc(local: datetime) -> datetime:
    """A Beijing wall-clock time (naive, as a form gives it) as naive UTC."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=BEIJING)
    return local.astimezone(UTC).replace(tzinfo=None)


def to_beijing(value: datetime) -> datetime:
    """Naive UTC (as stored) as a naive Beijing wall-clock time (as a form shows it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).replace(tzinfo=None)


def beijing(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """For templates: a stored time in Beijing time, or '' for none."""
    return "" if value is None else to_beijing(value).strftime(fmt)
