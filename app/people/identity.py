"""Mainland mobile numbers and 身份证 (resident ID) numbers: validation, keyed hashing and masking.

An ID number is never stored: only an HMAC-SHA256 under a server key (to find duplicates) and the
masked form shown on screen, e.g. 4403**********123X.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def normalise_mobile(raw: str) -> str:
    s = re.sub(r"[\s\-]", "", str(raw or ""))
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    return s


def valid_mobile(mobile: str) -> bool:
    return bool(MOBILE_RE.match(mobile))


def normalise_id_number(raw: str) -> str:
    return re.sub(r"\s", "", str(raw or "")).upper()


def id_checksum_ok(id_number: str) -> bool:
    """GB 11643-1999: the 18th character is the ISO 7064 MOD 11-2 check of the first 17 digits."""
    if not ID_RE.match(id_number):
        return False
    total = sum(int(d) * w for d, w in zip(id_number[:17], _WEIGHTS, strict=False))
    return _CHECK[total % 11] == id_number[17]


def id_check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=False)) % 11]


def hash_id_number(id_number: str, key: bytes) -> str:
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()


def mask_id_number(id_number: str) -> str:
    return f"{id_number[:4]}{'*' * 10}{id_number[-4:]}"
