"""The declarative base, row ids and the UTC timestamp type shared by every capability's models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import uuid_utils
from sqlalchemy import DateTime, MetaData, Table
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    if TYPE_CHECKING:
        # Every model is mapped to a Table (none to a join or a select), which is what the
        # Core statements and bulk writes built from ``Model.__table__`` need.
        __table__: ClassVar[Table]


def new_id() -> str:
    """A 32-hex-character row identifier (used in associated data before insert): a UUIDv7
    (RFC 9562), its creation time in milliseconds followed by 74 random bits.

    Time-ordered, so a batch's new keys land together at the right edge of every index on
    them (primary keys, and the ``customer_id`` indexes of a new customer's rows) instead of
    on random pages across the whole index, which makes a large ingest's commits much cheaper.
    What it reveals is when the row was made, which its ``created_at`` holds anyway; ids never
    leave the platform in clear (exports may only pseudonymise or drop ``customer_id``).
    Unguessability is not what an id is for: every read is checked by role and purpose.
    """
    return uuid_utils.uuid7().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
