"""Engine, sessions and the declarative base shared by every capability's models.

Service functions take a ``Session``, ``flush()`` and never commit: the request, the CLI
command or the scheduled job that owns the unit of work commits (``Platform.transaction``).
"""

from __future__ import annotations

import select
import time
from datetime import UTC, datetime
from typing import Any

import uuid_utils
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
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


def new_id() -> str:
    """A 32-hex-character row identifier (used in associated data before insert): a UUIDv7
    (RFC 9562), its creation time in milliseconds followed by 74 random bits.

    Time-ordered, so a batch's new keys land together at the right edge of every index on
    them (primary keys, and the ``customer_id`` indexes of a new customer's rows) instead of
    on random pages across the whole index: measured on 101,876 records into SQLite, the
    commit's CPU fell from 19.9 s to 8.7 s and the storing process's from 113 s to 80 s
    (BENCHMARKS.md).
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


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs for concurrent use."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself so BEGIN IMMEDIATE can be used for writers.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the lock at BEGIN, so two writers queue instead of deadlocking
            # on a read-to-write upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Connections are replaced after this long (bounds each backend's memory growth); dead
    # ones are caught at checkout without a round trip, see _check_liveness_at_checkout.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _check_liveness_at_checkout(engine)
    return engine


# Instead of pool_pre_ping (a `SELECT 1` round trip on every checkout, i.e. every request),
# a pooled connection is checked at checkout without a round trip: a server that closed it
# (restart, failover, pg_terminate_backend, idle timeout) has sent its FATAL notice or EOF,
# so its socket is readable, while a healthy idle connection has nothing to read. A
# connection idle in the pool for longer than POOL_PING_IDLE_SECONDS is pinged as before
# (a peer that vanished without closing). A dead one is discarded and the checkout retried
# with a new connection, so the request does not fail.
POOL_RECYCLE_SECONDS = 1800
POOL_PING_IDLE_SECONDS = 10.0
_IDLE_SINCE = "cdp_idle_since"


def _readable(dbapi_conn: Any, errors: tuple[type[BaseException], ...]) -> bool:
    """Whether the server sent something to an idle connection (or closed it)."""
    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        return True
    try:
        fd = dbapi_conn.fileno()
    except errors:  # closed under us: treat as dead
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _check_liveness_at_checkout(engine: Engine) -> None:
    dialect = engine.dialect
    errors = (OSError, ValueError, dialect.loaded_dbapi.Error)

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None:  # a new connection
            return
        if hasattr(select, "poll") and _readable(dbapi_conn, errors):
            dead = True
        elif not hasattr(select, "poll") or time.monotonic() - idle_since > POOL_PING_IDLE_SECONDS:
            try:
                dead = not dialect.do_ping(dbapi_conn)
            except errors:
                dead = True
        else:
            dead = False
        if dead:
            # The pool invalidates this connection and retries the checkout with a new one.
            raise DisconnectionError("pooled connection closed by the server")


def is_postgres(engine_or_session: Any) -> bool:
    bind = getattr(engine_or_session, "bind", engine_or_session)
    return bind.dialect.name == "postgresql"
