"""Where a phone says it is: the distance between two points and reading a coordinate a form sent.

Coordinates are degrees (floating point by nature); distances are whole metres where they are stored."""

from __future__ import annotations

import math


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def coordinate(raw) -> float | None:
    """A latitude or longitude a form sent, or None when it is missing, not a number, NaN or out of range."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) <= 180 else None
