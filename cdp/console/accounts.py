"""Console accounts: argon2id password hashes, TOTP second factor, enable / disable.

Service functions: they take a session, flush, never commit; the CLI command or the request
commits. Passwords and TOTP secrets never reach a log line or an exception message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cdp.console.models import ConsoleSession, ConsoleUser
from cdp.crypto import fields
from cdp.crypto.keyring import Keyring
from cdp.db import utcnow
from cdp.errors import Conflict, NotFound, ValidationError

# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id, 64 MiB, t=3).
PRODUCTION_HASHER = PasswordHasher()
_hasher = PRODUCTION_HASHER
# Checked against when the name is unknown, so a miss costs what a hit costs (no timing
# oracle for which staff names exist).
_DUMMY_HASH = _hasher.hash("not a password: equalises the time of unknown names")
NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
TOTP_INFO = "cdp/console/totp"


def _check_password(password: str) -> str:
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise ValidationError(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters", code="weak_password"
        )
    return password


def get_user(session: Session, name: str) -> ConsoleUser:
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if user is None:
        raise NotFound("no such console user")
    return user


def user_exists(session: Session, name: str) -> bool:
    return session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name[:64])) is not None


def create_user(session: Session, name: str, role: str, password: str | None) -> ConsoleUser:
    """A new account (flushes). ``password`` None: the account signs in only through OIDC."""
    if not NAME_RE.match(name):
        raise ValidationError(
            "a user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter",
            code="invalid_name",
        )
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name)) is not None:
        raise Conflict("a console user with that name exists", code="user_exists")
    now = utcnow()
    user = ConsoleUser(
        name=name,
        role=role,
        password_hash=_hasher.hash(_check_password(password)) if password is not None else None,
        created_at=now,
        password_changed_at=now if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def revoke_sessions(session: Session, user_id: int, reason: str) -> int:
    """End every live session of ``user_id``; returns how many."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_disabled(session: Session, name: str, disabled: bool) -> ConsoleUser:
    """Disable (every session ends at once) or enable an account."""
    user = get_user(session, name)
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        revoke_sessions(session, user.id, "account_disabled")
    session.flush()
    return user


def reset_user(session: Session, name: str, password: str) -> ConsoleUser:
    """A new password; every session ends and the second factor must be enrolled again."""
    user = get_user(session, name)
    user.password_hash = _hasher.hash(_check_password(password))
    user.password_changed_at = utcnow()
    user.totp_secret_ct = None
    user.totp_confirmed = False
    revoke_sessions(session, user.id, "password_reset")
    session.flush()
    return user


def list_users(session: Session) -> list[ConsoleUser]:
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.name)))


@dataclass(frozen=True)
class SignInResult:
    user: ConsoleUser | None
    reason: str  # "ok" | "bad_credentials" | "disabled"


def check_credentials(session: Session, name: str, password: str) -> SignInResult:
    """Whether ``password`` is ``name``'s. Unknown names and wrong passwords look the same
    to the caller and take the same time."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.name == name[:64]))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok: bool
    try:
        ok = _hasher.verify(stored, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if user is None or not user.password_hash or not ok:
        return SignInResult(None, "bad_credentials")
    if user.disabled_at is not None:
        return SignInResult(None, "disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return SignInResult(user, "ok")


def verify_password(user: ConsoleUser, password: str) -> bool:
    """Re-authentication: whether ``password`` is this user's."""
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _totp_aad(user_id: int) -> bytes:
    return fields.field_aad("console_users", "totp_secret_ct", str(user_id))


def totp_secret(keyring: Keyring, user: ConsoleUser) -> str | None:
    if user.totp_secret_ct is None:
        return None
    key = keyring.derived(TOTP_INFO)
    return fields.decrypt(key, user.totp_secret_ct, _totp_aad(user.id)).decode()


def start_totp_enrolment(session: Session, keyring: Keyring, user: ConsoleUser) -> str:
    """A new, unconfirmed TOTP secret for ``user`` (stored encrypted); returns it for the
    enrolment page. It becomes binding once a code from it is confirmed."""
    secret = pyotp.random_base32()
    user.totp_secret_ct = fields.encrypt(
        keyring.derived(TOTP_INFO), secret.encode(), _totp_aad(user.id)
    )
    user.totp_confirmed = False
    session.flush()
    return secret


def check_totp(keyring: Keyring, user: ConsoleUser, code: str, *, at: float | None = None) -> bool:
    """Whether ``code`` is a current TOTP code (one step of clock drift either way) not used
    before: the step it belongs to is remembered on ``user`` and no earlier or equal step is
    accepted again, so an observed code cannot be replayed."""
    import hmac
    import time

    secret = totp_secret(keyring, user)
    code = code.strip().replace(" ", "")
    if secret is None or not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step_now = int(now // totp.interval)
    for step in (step_now - 1, step_now, step_now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def provisioning_uri(secret: str, user: ConsoleUser) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.name, issuer_name="CDP console")
