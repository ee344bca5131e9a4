"""Engines for both backends: SQLite's pragmas and write locking, PostgreSQL's pool and the
liveness check of pooled connections."""

from __future__ import annotations

import contextlib
import os
import select
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

# A SQLite database holds the platform's (encrypted) personal data, blind indexes and the
# audit log: only its owner may read it, like the keyring.
SQLITE_FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for an in-memory database or another backend."""
    if not url.startswith("sqlite"):
        return None
    _, sep, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    if not sep or not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return Path(path)


def secure_sqlite_files(url: str) -> None:
    """Create the database file of ``url`` owner-only (0600) if it does not exist yet, and
    take group and world access away from it and its ``-wal`` / ``-shm`` / ``-journal``.

    SQLite creates its companion files with the main file's permissions, so a main file
    made 0600 before SQLite first opens it keeps them all private whatever the umask.
    """
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: another process creating it at the same moment wins; its file is then
        # tightened below like any existing one. SQLite treats an empty file as a new database.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    for suffix in _SQLITE_COMPANIONS:
        companion = Path(f"{path}{suffix}")
        try:
            if companion.stat().st_mode & 0o077:
                companion.chmod(SQLITE_FILE_MODE)
        except FileNotFoundError:
            continue


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs for concurrent use.

    A SQLite file is created (or tightened) owner-only first: see ``secure_sqlite_files``.
    """
    if url.startswith("sqlite"):
        secure_sqlite_files(url)
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
