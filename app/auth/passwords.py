"""Password hashing (argon2id) and the rules (ASVS L2: 8–128 characters, no composition rules,
the most common passwords refused). The list is Django's 20,000 common passwords (BSD licence)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with the library's recommended parameters (RFC 9106 low-memory profile). The test suite
# sets PASSWORD_HASH_FAST=True for a cheaper argon2id so hundreds of test users stay quick.
_STRONG = PasswordHasher()
_FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
MIN_LENGTH, MAX_LENGTH = 8, 128


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    with gzip.open(Path(__file__).with_name("common-passwords.txt.gz"), "rt", encoding="utf-8") as f:
        return frozenset(line.strip().lower() for line in f if line.strip())


def password_problem(password: str, *, mobile: str | None = None) -> str | None:
    """What is wrong with a new password, in words the user can act on; None when it is acceptable."""
    from flask_babel import gettext as _

    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(n)d characters.", n=MAX_LENGTH)
    if password.lower() in _common() or (mobile and mobile in password):
        return _("This password is too common or too easy to guess. Choose another, such as a short phrase.")
    return None


def _hasher() -> PasswordHasher:
    from flask import current_app, has_app_context

    return _FAST if has_app_context() and current_app.config.get("PASSWORD_HASH_FAST") else _STRONG


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        _hasher().hash(password)  # spend the same time, so a missing account is not revealed by timing
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)
