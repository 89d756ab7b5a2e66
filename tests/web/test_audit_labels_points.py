"""Every audit event the points, activities, check-ins and certificates areas record has a label in
its area's `audit_labels`, so the audit log names it in words (Chinese first) rather than showing the
raw event name. Found by reading each `record(` call's event name in the areas' sources."""

from __future__ import annotations

import re
from pathlib import Path

from app.area import audit_labels
from config import ROOT

AREAS = ("points", "activities", "checkins", "certificates")
CALL = re.compile(r"\brecord\(\s*\w+,\s*(f?)\"([^\"]+)\"")


def recorded_events() -> set[str]:
    found: set[str] = set()
    for area in AREAS:
        for path in Path(ROOT, "app", area).rglob("*.py"):
            for is_f, name in CALL.findall(path.read_text(encoding="utf-8")):
                if is_f:  # attendance.manual_{'in' if … else 'out'}: both names
                    found |= {re.sub(r"\{[^}]*\}", part, name) for part in ("in", "out")}
                else:
                    found.add(name)
    return found


def test_every_recorded_event_has_a_label(app):
    events = recorded_events()
    assert {"points.award_proposed", "checkin.site_close", "attendance.manual_in", "certificate.issue"} <= events
    labels = audit_labels(app)
    assert sorted(e for e in events if e not in labels) == []
    with app.test_request_context():
        assert all(str(labels[e]).strip() for e in events)


TARGET = re.compile(r"\btarget_type=\"([a-z_]+)\"")


def test_every_target_type_an_area_records_is_named_in_words(app):
    """The audit log shows an event's target as "发放：编号 300", never as the stored "fund_payout"."""
    from app.audit.labels import TARGET_LABELS

    recorded = {t for path in Path(ROOT, "app").rglob("*.py") for t in TARGET.findall(path.read_text("utf-8"))}
    assert {"fund_payout", "outlet", "checkin_site", "grid_report", "points_rule"} <= recorded
    assert sorted(t for t in recorded if t not in TARGET_LABELS) == []
