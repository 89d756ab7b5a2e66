"""Each vocabulary is spelled once: the schemas' literal types agree with the area's labels.py."""

from typing import get_args

from app.people import labels
from app.people.schemas import Status


def test_member_status_schema_matches_the_labels():
    assert get_args(Status) == labels.STATUSES
    assert set(labels.STATUS_LABELS) == set(labels.STATUSES)
