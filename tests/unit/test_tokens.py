"""QR tokens: signed, bound to purpose, district and subject, and short-lived (app/tokens.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from app.tokens import (
    PURPOSES,
    TokenClaims,
    TokenExpired,
    TokenForged,
    TokenInvalid,
    TokenMalformed,
    TokenWrongDistrict,
    TokenWrongPurpose,
    check_token,
    make_token,
    seconds_to_next_step,
)

SECRET = "unit-test-secret"
NOW = datetime(2026, 3, 5, 9, 30, 0, tzinfo=UTC)  # on a 30-second step boundary
TIMED = [name for name, p in PURPOSES.items() if p.step_seconds is not None]


@pytest.mark.parametrize("purpose", sorted(PURPOSES))
def test_round_trip_for_every_purpose(purpose):
    token = make_token(purpose, 7, 4242, now=NOW, secret=SECRET)
    claims = check_token(token, purpose, now=NOW, secret=SECRET)
    assert (claims.tenant_id, claims.subject_id) == (7, 4242)
    assert isinstance(claims, TokenClaims)
    if PURPOSES[purpose].step_seconds is None:
        assert claims.issued_step is None
    else:
        assert claims.issued_step == int(NOW.timestamp()) // PURPOSES[purpose].step_seconds


def test_token_is_compact_and_qr_alphanumeric():
    # Uppercase letters, digits and "." only: the QR encodes it in alphanumeric mode and stays small.
    token = make_token("member", 2**31, 2**40, now=NOW, secret=SECRET)
    assert token.startswith("AX1.M.")
    assert len(token) <= 60
    assert set(token) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.")


def test_typed_in_lowercase_with_spaces_is_accepted():
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    assert check_token(f"  {token.lower()} ", "member", now=NOW, secret=SECRET).subject_id == 42


def _replace_signature_char(token: str) -> str:
    body, sig = token.rsplit(".", 1)
    return f"{body}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}"


def test_forged_signature_is_refused():
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    with pytest.raises(TokenForged) as e:
        check_token(_replace_signature_char(token), "member", now=NOW, secret=SECRET)
    assert "genuine" in e.value.message


@pytest.mark.parametrize("field", [2, 3, 4], ids=["tenant", "subject", "step"])
def test_tampered_fields_are_refused(field):
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    parts = token.split(".")
    parts[field] = "Z" + parts[field]  # a different number, still well formed
    with pytest.raises(TokenForged):
        check_token(".".join(parts), "member", now=NOW, secret=SECRET)


def test_edited_purpose_letter_is_refused_as_forged():
    token = make_token("activity_checkin", 7, 42, now=NOW, secret=SECRET)
    edited = token.replace("AX1.AI.", "AX1.AO.", 1)
    with pytest.raises(TokenForged):
        check_token(edited, "activity_checkout", now=NOW, secret=SECRET)


@pytest.mark.parametrize("purpose", TIMED)
def test_valid_for_its_window_then_expired(purpose):
    p = PURPOSES[purpose]
    token = make_token(purpose, 7, 42, now=NOW, secret=SECRET)
    last_good = NOW + timedelta(seconds=(p.valid_steps + 1) * p.step_seconds - 1)
    assert check_token(token, purpose, now=last_good, secret=SECRET).subject_id == 42
    with pytest.raises(TokenExpired):
        check_token(token, purpose, now=last_good + timedelta(seconds=1), secret=SECRET)


def test_member_token_expires_within_two_minutes_with_an_actionable_message():
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    with pytest.raises(TokenExpired) as e:
        check_token(token, "member", now=NOW + timedelta(seconds=120), secret=SECRET)
    assert "refresh" in e.value.message
    assert e.value.code == "token_expired"


def test_token_made_late_in_its_step_still_lives_at_least_ninety_seconds():
    made = NOW + timedelta(seconds=29)
    token = make_token("member", 7, 42, now=made, secret=SECRET)
    assert check_token(token, "member", now=made + timedelta(seconds=90), secret=SECRET).subject_id == 42


def test_window_can_be_narrowed_but_never_beyond_two_minutes():
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    with pytest.raises(TokenExpired):
        check_token(token, "member", now=NOW + timedelta(seconds=30), secret=SECRET, valid_steps=0)
    with pytest.raises(ValueError):
        check_token(token, "member", now=NOW, secret=SECRET, valid_steps=4)


def test_token_from_far_in_the_future_is_refused():
    token = make_token("member", 7, 42, now=NOW + timedelta(minutes=10), secret=SECRET)
    with pytest.raises(TokenInvalid):
        check_token(token, "member", now=NOW, secret=SECRET)


def test_member_card_never_expires():
    card = make_token("member_card", 7, 42, now=NOW, secret=SECRET)
    assert check_token(card, "member_card", now=NOW + timedelta(days=3650), secret=SECRET).subject_id == 42


def test_member_token_presented_as_activity_checkin_is_wrong_purpose():
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    with pytest.raises(TokenWrongPurpose) as e:
        check_token(token, "activity_checkin", now=NOW, secret=SECRET)
    assert "member's QR code" in e.value.message and "check-in" in e.value.message


def test_printed_card_cannot_stand_in_for_the_live_member_code():
    card = make_token("member_card", 7, 42, now=NOW, secret=SECRET)
    with pytest.raises(TokenWrongPurpose):
        check_token(card, "member", now=NOW, secret=SECRET)


@pytest.mark.parametrize("made_as", sorted(PURPOSES))
@pytest.mark.parametrize("checked_as", sorted(PURPOSES))
def test_no_purpose_verifies_as_another(made_as, checked_as):
    token = make_token(made_as, 7, 42, now=NOW, secret=SECRET)
    if made_as == checked_as:
        assert check_token(token, checked_as, now=NOW, secret=SECRET).subject_id == 42
    else:
        with pytest.raises(TokenWrongPurpose):
            check_token(token, checked_as, now=NOW, secret=SECRET)


def test_token_from_another_secret_key_is_refused():
    token = make_token("member", 7, 42, now=NOW, secret="another district's server")
    with pytest.raises(TokenForged):
        check_token(token, "member", now=NOW, secret=SECRET)


def test_wrapper_prefers_a_dedicated_qr_key():
    # QR_TOKEN_KEY lets printed cards survive a SECRET_KEY rotation.
    app = Flask(__name__)
    app.config.update(SECRET_KEY="rotating", QR_TOKEN_KEY="kept for the cards")
    with app.app_context():
        card = make_token("member_card", 7, 42)
    assert check_token(card, "member_card", secret="kept for the cards").subject_id == 42


def test_expected_district_is_enforced():
    token = make_token("member", 7, 42, now=NOW, secret=SECRET)
    assert check_token(token, "member", now=NOW, secret=SECRET, tenant_id=7).tenant_id == 7
    with pytest.raises(TokenWrongDistrict):
        check_token(token, "member", now=NOW, secret=SECRET, tenant_id=8)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "hello",
        "AX1",
        "AX1.M.7.42",
        "AX1.M.7.42.1.",
        "AX2.M.7.42.1.AAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AX1.Q.7.42.1.AAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AX1.M.7.42.AAAAAAAAAAAAAAAAAAAAAAAAAA",  # timed, no step
        "AX1.C.7.42.1.AAAAAAAAAAAAAAAAAAAAAAAAAA",  # card with a step
        "AX1.M.-7.42.1.AAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AX1.M.7.42.1.AAAAAAAAAAAAAAAAAAAAAAAAA1",
        "AX1.M.7.42.1." + "A" * 27,
        "AX1.M." + "9" * 40 + ".42.1." + "A" * 26,
        "AX1.M.7.４２.1." + "A" * 26,
        "https://example.com/?t=AX1",
        "\x00\xff",
        "A" * 10_000,
        None,
        12345,
        b"AX1.M.7.42.1.AAAA",
    ],
)
def test_garbage_is_refused_with_token_invalid(garbage):
    with pytest.raises(TokenInvalid) as e:
        check_token(garbage, "member", now=NOW, secret=SECRET)
    assert isinstance(e.value, TokenMalformed)
    assert e.value.message


@pytest.mark.parametrize("bad", [-1, 1.5, "7", None, True])
def test_make_token_refuses_bad_ids(bad):
    with pytest.raises(ValueError):
        make_token("member", bad, 42, now=NOW, secret=SECRET)
    with pytest.raises(ValueError):
        make_token("member", 7, bad, now=NOW, secret=SECRET)


def test_unknown_purpose_is_a_programming_error():
    with pytest.raises(ValueError):
        make_token("coupon", 7, 42, now=NOW, secret=SECRET)
    with pytest.raises(ValueError):
        check_token("AX1.M.7.42.1." + "A" * 26, "coupon", now=NOW, secret=SECRET)


def test_now_may_be_unix_seconds_or_naive_utc():
    token = make_token("member", 7, 42, now=NOW.timestamp(), secret=SECRET)
    assert (
        check_token(token, "member", now=NOW.replace(tzinfo=None), secret=SECRET).issued_step
        == int(NOW.timestamp()) // 30
    )


def test_countdown_to_the_next_step():
    assert seconds_to_next_step("member", now=NOW) == 30
    assert seconds_to_next_step("member", now=NOW + timedelta(seconds=29.5)) == 1
    assert seconds_to_next_step("member", now=NOW + timedelta(seconds=10)) == 20


def test_wrapper_reads_the_app_secret():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "the app's own secret"
    with app.app_context():
        token = make_token("member", 7, 42, now=NOW)
        assert check_token(token, "member", now=NOW).subject_id == 42
    assert check_token(token, "member", now=NOW, secret=app.config["SECRET_KEY"]).subject_id == 42
    with pytest.raises(TokenForged):
        check_token(token, "member", now=NOW, secret=SECRET)
