"""Schemathesis against every operation of /api/v1/openapi.json, as a district and a grid
administrator, an organiser and a plain volunteer: generated valid and invalid requests, one by one
and in linked sequences (create, then read and change what was created). No answer may be a 5xx,
and every answer must match the document: status code, content type, headers (405 carries Allow) and body schema."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.db import utcnow
from app.tokens import make_token
from tests.web.api_operations import OPERATIONS
from tests.web.test_activities_api import _client, _extra_user, _iso, _published
from tests.web.test_api import post, signed_in

# Bounded so the whole run stays a minute or two per database (CI runs it on SQLite and PostgreSQL).
EXAMPLES = 25
STATEFUL_EXAMPLES = 15
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
# Valid per the document yet refused by a rule the document cannot state (an unknown grid id, a
# duplicate mobile, a unit outside the caller's scope): those are 4xx answers, not defects.
EXCLUDED = [positive_data_acceptance]


def _schema(app, town, role: str):
    """The document, with the signed-in session cookie and CSRF header as its auth (so Schemathesis
    knows them, and checks that without them a call is refused)."""
    client = app.test_client()
    credentials = {"csrf": signed_in(client, town, role), "session": client.get_cookie("session").value}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    @schema.auth(refresh_interval=None)
    class SessionAuth:
        def get(self, case, ctx):
            return credentials

        def set(self, case, data, ctx):
            case.cookies = {**(case.cookies or {}), "session": data["session"]}
            case.headers = {**(case.headers or {}), "X-CSRFToken": data["csrf"]}

    return schema


@pytest.mark.slow
@pytest.mark.parametrize("role", ["district_admin", "grid_admin", "organiser", "volunteer"])
def test_every_operation_answers_as_documented_and_never_5xx(app, town, role):
    schema = _schema(app, town, role)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)  # each documented operation (tests/web/api_operations.py)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case):
                response = case.call()
                assert response.status_code < 500, (case.as_curl_command(), response.text[:1000])
                case.validate_response(response, excluded_checks=EXCLUDED)

            call()


@pytest.mark.slow
@pytest.mark.parametrize("role", ["district_admin", "grid_admin", "organiser", "volunteer"])
def test_linked_sequences_answer_as_documented(app, town, role):
    """Stateful: links the document's response schemas allow (an id created, then read or patched)."""
    # Left out: verifying a certificate. Its path parameter is the random code of a certificate issued a
    # step before, new on every replay, so Hypothesis sees the data change between runs of one example
    # (FlakyStrategyDefinition). It is called one by one above and in tests/web/test_certificates.py.
    # Left out too: withdrawing one's own sign-up. It succeeds once; replayed by Hypothesis against the
    # same database it answers 404, so the sequences linked from its answer vanish between runs of one
    # example (FlakyStrategyDefinition, seen for the district admin once the document's model names
    # changed how the exploration went). It is called one by one above and in test_activities_api.py.
    schema = (
        _schema(app, town, role)
        .exclude(path="/api/v1/certificates/{code}")
        .exclude(path="/api/v1/activities/{activity_id}/signups/me", method="DELETE")
    )
    answered: Counter = Counter()

    class APIWorkflow(schema.as_state_machine()):
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            answered[(case.method, case.path, response.status_code)] += 1
            assert response.status_code < 500, (case.as_curl_command(), response.text[:1000])
            case.validate_response(
                response, excluded_checks=EXCLUDED, transport_kwargs=kwargs or None, recorder=self.recorder
            )

    APIWorkflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    # Every call answered (no 5xx, each as documented: checked above). Whether a sequence reads back what
    # it created depends on how far the derandomized exploration gets over 90 operations (it used to be
    # asserted here, and broke on each new area without any defect); tests/web/test_api_locations.py
    # checks directly that each create answers 201 with a Location that reads back.
    assert answered, "the state machine made no calls"


@pytest.mark.slow
@pytest.mark.parametrize("role", ["district_admin", "grid_admin", "organiser", "volunteer"])
def test_activity_operations_on_a_real_activity_answer_as_documented(app, town, role):
    """Generated ids rarely name a real activity, so most calls above stop at 404. Here every
    operation on an activity is aimed at a published one with sign-ups and attendances waiting for
    review, a new activity at a unit the organiser hosts in, a scan at a genuine code and an entry at
    a real member: the generated values then reach the services' own rules."""
    activity_id = _published(app, town, capacity=2)
    c, token = _client(app, town, "organiser")
    second = _extra_user(app, town, "second", "周杰")
    for member in (town.users["volunteer"][0], second):
        r = post(
            c,
            f"/api/v1/activities/{activity_id}/attendances",
            {
                "member_id": member.id,
                "kind": "paper",
                "checked_in_at": _iso(utcnow() - timedelta(hours=3)),
                "checked_out_at": _iso(utcnow()),
            },
            token,
        )
        assert r.status_code == 201, r.get_data(as_text=True)
    with app.app_context():
        tokens = [make_token(p, town.district.id, activity_id) for p in ("activity_checkin", "activity_checkout")]
    schema = _schema(app, town, role)
    answered: Counter = Counter()
    aimed = 0
    operations = [result.ok() for result in schema.get_all_operations()]

    # Scans first; changing the activity (its times, a radius) and cancelling it close it to scans: last.
    def order(op) -> int:
        return (
            0
            if op.path.endswith("/scans")
            else 2
            if op.method.upper() == "PATCH"
            else 3
            if op.path.endswith("/cancel")
            else 1
        )

    for operation in sorted(operations, key=order):
        path = operation.path
        if "{activity_id}" not in path and path not in ("/api/v1/activities", "/api/v1/scans"):
            continue
        aimed += 1

        @SETTINGS
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def call(case):
            if "activity_id" in case.path_parameters:
                case.path_parameters = {**case.path_parameters, "activity_id": activity_id}
            if isinstance(case.body, dict):
                body = dict(case.body)
                if "host_unit_id" in body:
                    body["host_unit_id"] = town.community_a.id
                if "starts_at" in body and body.get("capacity", 0) % 2:  # half of them with sane times
                    body["starts_at"], body["ends_at"] = _iso(utcnow()), _iso(utcnow() + timedelta(hours=2))
                if "token" in body:
                    body["token"] = tokens[len(body["token"]) % 2]
                if "member_id" in body:
                    body["member_id"] = second.id
                case.body = body
            response = case.call()
            error = (response.json() or {}).get("error") or {}
            answered[(case.method, case.operation.path, response.status_code, error.get("code"))] += 1
            assert response.status_code < 500, (case.as_curl_command(), response.text[:1000])
            case.validate_response(response, excluded_checks=EXCLUDED)

        call()
    assert aimed == 14
    # The generated calls got past the checks: a genuine code scanned, an activity read.
    assert answered[("POST", "/api/v1/scans", 200, None)], answered
    assert answered[("GET", "/api/v1/activities/{activity_id}", 200, None)], answered
