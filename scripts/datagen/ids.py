"""Identifier values as channels send them: resident ID numbers, mobiles, emails, ids."""

from __future__ import annotations

import random
from operator import mul

from .fastrand import below, between, pick
from .pools import MOBILE_PREFIXES

_RIC_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_RIC_CHECK = "10X98765432"


def ric_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a PRC resident identity card number."""
    total = sum(map(mul, map(int, first17), _RIC_WEIGHTS))
    return _RIC_CHECK[total % 11]


def national_id(rng: random.Random, area_code: str, birth_date: str, gender: str) -> str:
    """18-digit resident ID: area code, YYYYMMDD birth date, 3-digit sequence (odd for men,
    even for women), check character."""
    seq = between(rng, 0, 500) * 2 + (1 if gender == "male" else 0)
    first17 = f"{area_code}{birth_date.replace('-', '')}{seq:03d}"
    return first17 + ric_check_digit(first17)


def passport(rng: random.Random) -> str:
    """Ordinary PRC e-passport number: E + 8 digits (E + letter + 7 digits since 2017)."""
    if rng.random() < 0.5:
        return f"E{below(rng, 10**8):08d}"
    return f"E{pick(rng, 'ABCDEFGHJKLMNPQRSTUVWXYZ')}{below(rng, 10**7):07d}"


def mobile(rng: random.Random) -> str:
    return pick(rng, MOBILE_PREFIXES) + f"{below(rng, 10**8):08d}"


def format_mobile(rng: random.Random, digits: str) -> str:
    """The same number in one of the formats channels actually send."""
    r = rng.random()
    a, b, c = digits[:3], digits[3:7], digits[7:]
    if r < 0.40:
        return digits
    if r < 0.55:
        return f"+86 {a} {b} {c}"
    if r < 0.67:
        return f"{a}-{b}-{c}"
    if r < 0.77:
        return f"86{digits}"
    if r < 0.87:
        return f"{a} {b} {c}"
    if r < 0.94:
        return f"+86{digits}"
    return f"(+86) {a}-{b}-{c}"


def mask_mobile(digits: str) -> str:
    """Marketplace masking: 138****5678."""
    return f"{digits[:3]}****{digits[7:]}"


def messy_email(rng: random.Random, email: str) -> str:
    """Stray case and spaces, as typed into a form."""
    r = rng.random()
    if r < 0.6:
        return email
    if r < 0.75:
        return email.upper() if rng.random() < 0.3 else email[:1].upper() + email[1:]
    if r < 0.9:
        return f" {email} " if rng.random() < 0.5 else f"{email} "
    local, _, domain = email.partition("@")
    return f"{local}@{domain.upper()}"


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def token(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def wechat_openid(rng: random.Random) -> str:
    return "o" + token(rng, 5, _B64) + token(rng, 22, _B64)


def wechat_unionid(rng: random.Random) -> str:
    return "oUn" + token(rng, 25, _B64)


def device_id(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def platform_user_id(rng: random.Random, source: str) -> str:
    if source == "jd_health":
        return "jd_" + token(rng, 12)
    if source == "ali_health":
        return "2088" + f"{below(rng, 10**12):012d}"
    return "PA" + f"{below(rng, 10**10):010d}"


def member_id(rng: random.Random) -> str:
    return f"M{below(rng, 10**10):010d}"


def insurance_no(rng: random.Random) -> str:
    return f"PAHI{below(rng, 10**12):012d}"
