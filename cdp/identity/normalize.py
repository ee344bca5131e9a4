"""Normalisation of identifiers and profile values into comparable forms.

Pure functions, no I/O: the same input always gives the same normal form, so blind indexes
of equal values are equal. Nothing here logs or raises with a value in the message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, wraps
from typing import Any, TypeVar

import phonenumbers
from opencc import OpenCC
from pypinyin import Style, lazy_pinyin
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from cdp.identity.vocabulary import IDENTIFIER_TYPES, SCOPED_BY_SOURCE

# Identifier statuses (also the values of Identifier.status).
VALID = "valid"
MASKED = "masked"
INVALID = "invalid"
PLACEHOLDER = "placeholder"
UNKNOWN_TYPE = "unknown_type"

# Normal forms are memoised for the repeats within and across ingest batches. The caches hold
# plaintext personal values in process memory, so they stay small: a long-lived worker must
# not accumulate every value it ever decrypted, and memory must not grow with the rows read.
NORMALISER_CACHE = 20_000

# Inside private_memo() the normalisers memoise in a dict of that block instead (see there).
_PRIVATE_MEMO: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar(
    "cdp_normaliser_private_memo", default=None)
_F = TypeVar("_F", bound=Callable[..., Any])


def _memoised(fn: _F) -> _F:
    """lru_cache(NORMALISER_CACHE), or the memo of the enclosing private_memo() block."""
    shared = lru_cache(maxsize=NORMALISER_CACHE)(fn)

    @wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        memo = _PRIVATE_MEMO.get()
        if memo is None:
            return shared(*args, **kwargs)
        key = (fn, args, tuple(kwargs.items()))
        try:
            return memo[key]
        except KeyError:
            memo[key] = value = fn(*args, **kwargs)
            return value

    # lru_cache's introspection on the wrapper, which keeps fn's signature: attributes on a
    # function and the cast back to _F are beyond what mypy follows.
    call.cache_info = shared.cache_info  # type: ignore[attr-defined]
    call.cache_clear = shared.cache_clear  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


@contextmanager
def private_memo() -> Iterator[None]:
    """Normal forms computed in this block are memoised for the block only, not in the
    process-wide caches: for bulk reads that see every customer once (exports), which would
    otherwise fill those caches with values never asked for again (memory growing with the
    rows read up to the caps, plaintext kept after the run, ingest's repeats evicted). Keep
    the block short (one page of customers); do not yield out of it."""
    token = _PRIVATE_MEMO.set({})
    try:
        yield
    finally:
        _PRIVATE_MEMO.reset(token)


KNOWN_TYPES = frozenset(IDENTIFIER_TYPES)

_MASK_CHARS = "*＊xX●•"
_MASKED_PHONE = re.compile(r"^\+?(?:86)?(1\d{2})[*＊xX●•]{3,6}(\d{4})$")
_SPACES = re.compile(r"[\s\u3000\-\.\(\)（）]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass(frozen=True)
class NormalIdentifier:
    """An identifier after normalisation.

    ``norm`` is the comparable form used for the blind index (None when the value must never
    be matched on); ``weak`` holds weak evidence keys (kind, normal form), e.g. the prefix and
    suffix of a masked phone.
    """

    type: str
    status: str
    norm: str | None
    weak: tuple[tuple[str, str], ...] = ()


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


@_memoised
def normalize_phone(value: str, region: str = "CN") -> NormalIdentifier:
    """E.164 for a real number; a masked marketplace number keeps only prefix+suffix."""
    v = nfkc(value)
    compact = _SPACES.sub("", v)
    m = _MASKED_PHONE.match(compact)
    if m:
        return NormalIdentifier("phone", MASKED, None, (("phone_ps", m.group(1) + m.group(2)),))
    if any(c in compact for c in _MASK_CHARS):
        return NormalIdentifier("phone", INVALID, None)
    try:
        num = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return NormalIdentifier("phone", INVALID, None)
    if not phonenumbers.is_valid_number(num):
        return NormalIdentifier("phone", INVALID, None)
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    national = str(num.national_number)
    weak: tuple[tuple[str, str], ...] = ()
    if num.country_code == 86 and len(national) == 11:
        weak = (("phone_ps", national[:3] + national[-4:]),)
    if len(set(national)) == 1:
        return NormalIdentifier("phone", PLACEHOLDER, e164)
    return NormalIdentifier("phone", VALID, e164, weak)


@_memoised
def normalize_email(value: str) -> NormalIdentifier:
    v = nfkc(value).replace(" ", "").lower()
    if not _EMAIL.match(v):
        return NormalIdentifier("email", INVALID, None)
    return NormalIdentifier("email", VALID, v)


@_memoised
def normalize_national_id(value: str) -> NormalIdentifier:
    """PRC resident ID checked with python-stdnum's cn.ric (length, birth date, check
    digit); invalid ones are never matched on."""
    v = ric.compact(nfkc(value))
    # python-stdnum's validate() also looks the region code up in its database, which is
    # slow on the ingest path and rejects codes retired since issue; length, date and check digit
    # are what make a number well formed.
    try:
        ok = (
            len(v) == 18
            and v[:17].isdigit()
            and ric.calc_check_digit(v) == v[17]
            and ric.get_birth_date(v) is not None
        )
    except (StdnumError, ValueError):
        ok = False
    if not ok:
        return NormalIdentifier("national_id", INVALID, None)
    return NormalIdentifier("national_id", VALID, v)


@_memoised
def national_id_birth_date(norm: str) -> str | None:
    try:
        return ric.get_birth_date(norm).isoformat()
    except (StdnumError, ValueError):
        return None


def normalize_identifier(id_type: str, value: object, source: str) -> NormalIdentifier:
    """Normal form of one identifier of a record from ``source``."""
    if not isinstance(value, str) or not nfkc(value):
        return NormalIdentifier(id_type, INVALID, None)
    if id_type == "phone":
        return normalize_phone(value)
    if id_type == "email":
        return normalize_email(value)
    if id_type == "national_id":
        return normalize_national_id(value)
    if id_type not in KNOWN_TYPES:
        return NormalIdentifier(id_type, UNKNOWN_TYPE, None)
    v = nfkc(value).replace(" ", "")
    if id_type == "passport":
        v = v.upper()
        if not _PASSPORT.match(v):
            return NormalIdentifier(id_type, INVALID, None)
    if id_type in SCOPED_BY_SOURCE:
        v = f"{source}|{v}"
    return NormalIdentifier(id_type, VALID, v)


# --- names ---------------------------------------------------------------------------------

_t2s = OpenCC("t2s")
HONORIFICS = {"先生": "male", "女士": "female", "小姐": "female", "太太": "female", "阿姨": "female"}
NICK_PREFIXES = ("小", "阿", "老")
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 独孤".split()
)
_HAN = re.compile(r"^[\u3400-\u9fff]+$")
_LATIN_TOKENS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class NameInfo:
    """A name in comparable forms.

    kind: full (Chinese full name), latin (Latin script, e.g. pinyin or English),
    honorific (surname + 先生/女士), nickname (小伟, 老王, 伟伟).
    """

    text: str  # NFKC, simplified, no spaces (Chinese) / lower-case single-spaced (Latin)
    kind: str
    surname: str | None = None
    given: str | None = None
    gender: str | None = None
    tokens: tuple[str, ...] = field(default_factory=tuple)  # pinyin / latin tokens

    @property
    def pinyin_key(self) -> str:
        return " ".join(sorted(self.tokens))


@_memoised
def to_simplified(text: str) -> str:
    return _t2s.convert(text)


@_memoised
def pinyin_tokens(han: str) -> tuple[str, ...]:
    return tuple(t.lower() for t in lazy_pinyin(han, style=Style.NORMAL) if t.strip())


def split_chinese(name: str) -> tuple[str, str]:
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


_NAME_SEPARATORS = re.compile(r"[\s·•.]+")


def _name_text(value: str) -> tuple[str, str]:
    """(NFKC simplified form, the same without spaces and name dots)."""
    v = to_simplified(nfkc(value))
    return v, _NAME_SEPARATORS.sub("", v)


def _honorific(han: str) -> tuple[str, str] | None:
    """(surname, gender) of a Chinese honorific form (王先生), else None."""
    for suffix, gender in HONORIFICS.items():
        if han.endswith(suffix) and 1 <= len(han) - len(suffix) <= 2:
            return han[: -len(suffix)], gender
    return None


def _is_nickname(han: str) -> bool:
    return len(han) == 2 and (han[0] in NICK_PREFIXES or han[0] == han[1])


@_memoised
def normalize_name(value: str) -> NameInfo | None:
    """Comparable forms of a person's name (None for an empty one)."""
    v, han = _name_text(value)
    if not han:
        return None
    if _HAN.match(han):
        honorific = _honorific(han)
        if honorific is not None:
            surname, gender = honorific
            tokens: tuple[str, ...] = ("".join(pinyin_tokens(surname)),)
            return NameInfo(han, "honorific", surname, None, gender, tokens)
        if _is_nickname(han):
            return NameInfo(han, "nickname", None, None, None, pinyin_tokens(han))
        surname, given = split_chinese(han)
        # Surname and given name as one token each: "Zhang Xiaoming" writes the given name
        # as one word.
        tokens = ("".join(pinyin_tokens(surname)), "".join(pinyin_tokens(given)))
        return NameInfo(han, "full", surname, given, None, tokens)
    tokens = tuple(_LATIN_TOKENS.findall(unicodedata.normalize("NFKD", v).lower()))
    if not tokens:
        return NameInfo(han.lower(), "other", tokens=())
    return NameInfo(" ".join(tokens), "latin", tokens=tokens)


@_memoised
def name_kind(value: str) -> str | None:
    """``normalize_name(value).kind`` (None for an empty name) without the pinyin: what the
    golden record ranks names by, on every read of a customer."""
    v, han = _name_text(value)
    if not han:
        return None
    if _HAN.match(han):
        if _honorific(han) is not None:
            return "honorific"
        return "nickname" if _is_nickname(han) else "full"
    return "latin" if _LATIN_TOKENS.search(unicodedata.normalize("NFKD", v).lower()) else "other"


def names_relation(a: NameInfo, b: NameInfo) -> str:
    """``same``, ``compatible`` (could be the same person) or ``conflict``."""
    if a.text == b.text:
        return "same"
    if a.tokens and a.pinyin_key == b.pinyin_key:
        return "same"  # pinyin form, homophone typo, word order
    for x, y in ((a, b), (b, a)):
        if x.kind == "honorific":
            if y.kind == "full" and y.surname == x.surname:
                return "compatible"
            if y.kind == "latin" and x.tokens and x.tokens[0] in y.tokens:
                return "compatible"
            if y.kind == "honorific" and y.surname == x.surname and y.gender == x.gender:
                return "compatible"
        if x.kind == "nickname" and y.kind == "full":
            core = x.text[1] if x.text[0] in NICK_PREFIXES else x.text[0]
            if (y.given and core == y.given[-1]) or (x.text[0] == "老" and core == y.surname):
                return "compatible"
        if x.kind == "nickname" and y.kind in ("latin", "nickname", "honorific"):
            return "compatible"  # too little to tell either way
    if a.kind == "latin" and b.kind == "latin" and latin_similar(a.tokens, b.tokens):
        return "compatible"
    return "conflict"


def latin_similar(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    from jellyfish import jaro_winkler_similarity

    if not a or not b:
        return False
    return jaro_winkler_similarity(" ".join(sorted(a)), " ".join(sorted(b))) >= 0.93


# --- other profile values ------------------------------------------------------------------

GENDERS = {"male": "male", "m": "male", "男": "male", "female": "female", "f": "female", "女": "female"}


def normalize_gender(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return GENDERS.get(nfkc(value).lower())


def normalize_birth_date(value: object) -> str | None:
    """ISO date for a real calendar date (YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD), else None."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"\D", "", nfkc(value))
    if len(digits) != 8:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    except ValueError:
        return None


@_memoised
def normalize_address(value: str) -> str:
    v = to_simplified(nfkc(value)).lower()
    return re.sub(r"[\s,，.。#\-]+", "", v)
