"""Bulk inserts of many rows in the session's transaction (an ingest batch, its audit entries).

PostgreSQL: ``COPY ... FROM STDIN`` on the session's own connection, inside its transaction
(so a failed batch rolls back as a whole, and triggers still fire, the audit chain's
statement trigger with its transition table included). COPY skips statement
parsing and per-row parameter binding on both sides of the socket; on two cores shared with
the server that is a visible share of an ingest's time. Other backends: executemany in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import DateTime, LargeBinary, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cdp.db.engine import is_postgres

EXECUTEMANY_CHUNK = 1000


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]], *,
                as_is: frozenset[str] = frozenset()) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction.
    Columns in ``as_is`` hold values already in the form the database takes (JSON text for a
    JSON column) and are passed on without their type's conversion."""
    if not rows:
        return
    if is_postgres(session):
        _copy(session, table, rows, as_is)
        return
    _executemany(session, table, rows, as_is)


def _bind_plan(conn: Any, table: Table, names: list[str],
               as_is: frozenset[str]) -> list[tuple[str, Any]]:
    """(column, conversion) for each key: the column type's own bind conversion for this
    dialect (the values SQLAlchemy would send: JSON serialised, UTC datetimes checked and
    normalised), without building a parameter set per row through the compiler. Bytes go to
    the driver as they are."""
    plan: list[tuple[str, Any]] = []
    for n in names:
        col = table.c[n]  # KeyError for a key that is not a column
        proc: Callable[[Any], Any] | None = (
            None if n in as_is or isinstance(col.type, LargeBinary)
            else col.type._cached_bind_processor(conn.dialect)
        )
        if proc is not None and col.type._type_affinity is DateTime:
            proc = _repeats_once(proc)
        plan.append((n, proc))
    return plan


def _repeats_once(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``proc`` converting a value it was just given only once: a batch's rows share their
    timestamps (``created_at`` / ``updated_at`` are the batch's own ``now``)."""
    last_in: Any = _NOTHING
    last_out: Any = None

    def convert(value: Any) -> Any:
        nonlocal last_in, last_out
        if value is not last_in:  # identity: the previous value is held here, never reused
            last_out, last_in = proc(value), value
        return last_out

    return convert


_NOTHING = object()


def _executemany(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                 as_is: frozenset[str]) -> None:
    """(SQLite) The driver's executemany, without the compiler's per-row parameter building,
    a large share of an ingest batch's insert time."""
    session.flush()  # ORM objects pending in the session go first (FK order)
    conn = session.connection()
    names = list(rows[0])
    plan = _bind_plan(conn, table, names, as_is)
    quote = conn.dialect.identifier_preparer.quote
    # qmark (the sqlite3 driver's style); exactly these columns: defaults are not applied
    stmt = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608 - names from code, quoted
            f"VALUES ({', '.join('?' for _ in names)})")
    for i in range(0, len(rows), EXECUTEMANY_CHUNK):
        params = [tuple(r[n] if p is None else p(r[n]) for n, p in plan)
                  for r in rows[i : i + EXECUTEMANY_CHUNK]]
        conn.exec_driver_sql(stmt, params)


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]],
          as_is: frozenset[str]) -> None:
    import psycopg
    from psycopg import sql

    session.flush()  # ORM objects pending in the session go first (FK order)
    conn = session.connection()
    names = list(rows[0])
    plan = _bind_plan(conn, table, names, as_is)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(n) for n in names))
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the connection has no open driver connection")
    try:
        with raw.cursor() as cur, cur.copy(stmt) as copy:
            for r in rows:
                copy.write_row([r[n] if p is None else p(r[n]) for n, p in plan])
    except psycopg.Error as e:
        # As SQLAlchemy raises for its own statements (IntegrityError, OperationalError, ...):
        # callers handle one family of errors whichever path wrote the rows.
        raise DBAPIError.instance(stmt.as_string(raw), None, e, psycopg.Error,
                                  hide_parameters=True, dialect=conn.dialect) from e
