"""API keys: only a hash is stored; the key itself is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cdp.db import Base, UTCDateTime, new_id, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Public lookup part of the key (cdp_<prefix>_<secret>); not secret.
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BreakGlassGrant(Base):
    """Plain access to one customer for one API key, with a written reason, until it expires.

    Granting writes an audit entry of its own (``customers.break_glass``); every read under
    it is audited with the grant id; compliance lists them (``/v1/audit/reports/break-glass``).
    """

    __tablename__ = "break_glass_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # The API key that asked, or the console user (exactly one of the two).
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id"), index=True, nullable=True
    )
    console_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("console_users.id"), index=True, nullable=True
    )
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    # Redacted (PII engine, "storage" policy): what compliance reads in the report.
    reason: Mapped[str] = mapped_column(Text)
    # The reason as written, AES-GCM under the customer's data key (gone with an erasure).
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    data_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
