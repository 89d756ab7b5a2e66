"""Made-up but valid identities for demo people: names, birth dates, mobiles and 身份证 numbers.

Every function takes a `random.Random`, so the same seed always gives the same people.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from app.people.identity import id_check_char

from .names import DOUBLE_FEMALE, DOUBLE_MALE, DOUBLE_SHARE, SINGLE_FEMALE, SINGLE_MALE, SURNAMES, generation

_SURNAMES = [s for s, _ in SURNAMES]
_SURNAME_WEIGHTS = [w for _, w in SURNAMES]

# Mainland mobile prefixes actually in use (China Mobile, Unicom, Telecom), weighted roughly by
# how many subscribers hold them.
_MOBILE_PREFIXES = (
    ("139", 6),
    ("138", 6),
    ("137", 5),
    ("136", 5),
    ("135", 5),
    ("134", 3),
    ("159", 4),
    ("158", 4),
    ("157", 2),
    ("152", 3),
    ("151", 3),
    ("150", 3),
    ("188", 3),
    ("187", 3),
    ("183", 2),
    ("182", 2),
    ("178", 2),
    ("147", 1),
    ("130", 3),
    ("131", 3),
    ("132", 3),
    ("155", 2),
    ("156", 3),
    ("185", 2),
    ("186", 3),
    ("176", 2),
    ("166", 1),
    ("133", 2),
    ("153", 2),
    ("180", 2),
    ("181", 2),
    ("189", 3),
    ("177", 2),
    ("173", 1),
    ("199", 2),
    ("191", 1),
    ("198", 1),
)
_PREFIXES = [p for p, _ in _MOBILE_PREFIXES]
_PREFIX_WEIGHTS = [w for _, w in _MOBILE_PREFIXES]

# 身份证 region codes (the first six digits) of Shenzhen's districts: 4403xx, Guangming (440311)
# and neighbouring Bao'an (440306) most often.
_REGIONS = (
    ("440311", 35),
    ("440306", 25),
    ("440309", 8),
    ("440307", 8),
    ("440305", 6),
    ("440304", 6),
    ("440303", 6),
    ("440310", 4),
    ("440308", 2),
)
_REGION_CODES = [r for r, _ in _REGIONS]
_REGION_WEIGHTS = [w for _, w in _REGIONS]

# Birth decades of adult residents: Shenzhen is young, most residents were born 1970–2000.
_DECADES = (
    (1946, 1949, 1),
    (1950, 1959, 6),
    (1960, 1969, 13),
    (1970, 1979, 20),
    (1980, 1989, 27),
    (1990, 1999, 24),
    (2000, 2007, 9),
)


def birth_date(rng: random.Random) -> date:
    first, last, _ = rng.choices(_DECADES, weights=[d[2] for d in _DECADES])[0]
    start, end = date(first, 1, 1), date(last, 12, 31)
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def person_name(rng: random.Random, sex: str, birth_year: int, local_surname: str | None = None) -> str:
    """A surname (weighted; sometimes the local clan's) and a one- or two-character given name."""
    if local_surname and rng.random() < 0.15:
        surname = local_surname
    else:
        surname = rng.choices(_SURNAMES, weights=_SURNAME_WEIGHTS)[0]
    gen = generation(birth_year)
    if rng.random() < DOUBLE_SHARE[gen]:
        given = rng.choice((DOUBLE_MALE if sex == "M" else DOUBLE_FEMALE)[gen])
    else:
        given = rng.choice(SINGLE_MALE if sex == "M" else SINGLE_FEMALE)
    return surname + given


def mobile(rng: random.Random, taken: set[str]) -> str:
    """A mainland mobile number not in `taken` (which it joins)."""
    while True:
        m = rng.choices(_PREFIXES, weights=_PREFIX_WEIGHTS)[0] + f"{rng.randrange(10**8):08d}"
        if m not in taken:
            taken.add(m)
            return m


def id_number(rng: random.Random, sex: str, born: date, taken: set[str]) -> str:
    """An 18-character 身份证 number with a correct check character (GB 11643): region, birth date,
    a sequence whose last digit is odd for men and even for women, and the check."""
    while True:
        seq = f"{rng.randrange(100):02d}{rng.choice('13579' if sex == 'M' else '02468')}"
        first17 = rng.choices(_REGION_CODES, weights=_REGION_WEIGHTS)[0] + born.strftime("%Y%m%d") + seq
        n = first17 + id_check_char(first17)
        if n not in taken:
            taken.add(n)
            return n
