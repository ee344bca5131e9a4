"""DriverStatement (cdp/db/driver_sql.py): the same rows as SQLAlchemy's own execution, seen by
the engine's cursor events, errors raised as SQLAlchemy's without the parameters, and a
connection lost under it never handed out again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, event, literal, select, text
from sqlalchemy.exc import DBAPIError

from cdp.audit.log import AuditEntry, record
from cdp.audit.models import AuditEvent
from cdp.db import is_postgres
from cdp.db.driver_sql import DriverStatement
from cdp.platform import Platform

_BY_ACTOR = (
    select(
        AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.categories,
        AuditEvent.view, AuditEvent.detail, AuditEvent.customer_id, AuditEvent.reason,
    )
    .where(AuditEvent.actor == bindparam("actor"))
    .order_by(AuditEvent.id)
)


def _write(platform: Platform) -> None:
    with platform.transaction() as s:
        record(s, *[
            AuditEntry(actor="apikey:drv", action="customers.read", customer_id=f"c{i}",
                       categories=["contact", "identity"], view={"contact": "masked"},
                       detail={"n": i, "zh": "处方"}, reason=None if i % 2 else "核对")
            for i in range(5)
        ])


def test_rows_are_what_connection_execute_returns(platform: Platform) -> None:
    """Datetimes (aware, UTC), JSON columns and NULLs converted as SQLAlchemy converts them;
    the statement is seen by the engine's cursor events (query counting, tracing)."""
    _write(platform)
    stmt = DriverStatement(_BY_ACTOR)
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    with platform.transaction() as s:
        conn = s.connection()
        expected = conn.execute(_BY_ACTOR, {"actor": "apikey:drv"}).all()
        event.listen(platform.engine, "before_cursor_execute", count)
        try:
            got = stmt.rows(conn, {"actor": "apikey:drv"})
            again = stmt.rows(conn, {"actor": "apikey:drv"})  # conversions built once, reused
        finally:
            event.remove(platform.engine, "before_cursor_execute", count)
    assert len(expected) == 5 and len(seen) == 2
    assert [tuple(r) for r in got] == [tuple(r) for r in expected] == [tuple(r) for r in again]
    first = got[0]
    assert first.at.utcoffset() is not None and first.at.utcoffset().total_seconds() == 0
    assert first.categories == ["contact", "identity"] and first.detail == {"n": 0, "zh": "处方"}
    assert first.reason == "核对" and got[1].reason is None


def test_values_the_statement_carries_are_sent_with_it(platform: Platform) -> None:
    """A comparison with a constant and a literal compile to bound parameters the caller
    does not give; they are sent all the same (the rows are Connection.execute's)."""
    _write(platform)
    stmt = (
        select(AuditEvent.customer_id, literal("x").label("tag"))
        .where(AuditEvent.actor == "apikey:drv", AuditEvent.customer_id != bindparam("skip"))
        .order_by(AuditEvent.id)
    )
    with platform.transaction() as s:
        conn = s.connection()
        expected = conn.execute(stmt, {"skip": "c1"}).all()
        got = DriverStatement(stmt).rows(conn, {"skip": "c1"})
    assert [tuple(r) for r in got] == [tuple(r) for r in expected]
    assert [r.customer_id for r in got] == ["c0", "c2", "c3", "c4"] and got[0].tag == "x"
    # A value computed at each run (callable_) would be frozen at the first: refused.
    with pytest.raises(ValueError, match="computed at run time"), platform.transaction() as s:
        DriverStatement(select(bindparam("now", callable_=lambda: 1).label("n"))).rows(
            s.connection(), {}
        )


def test_an_error_is_sqlalchemys_and_does_not_carry_the_parameters(platform: Platform) -> None:
    stmt = DriverStatement(text("SELECT n FROM no_such_table WHERE n = :v"), names=("n",))
    with platform.transaction() as s, pytest.raises(DBAPIError) as info:
        stmt.rows(s.connection(), {"v": "13812345678"})
    assert "13812345678" not in str(info.value)
    assert not info.value.connection_invalidated


def test_a_connection_lost_under_a_statement_is_not_reused(platform: Platform) -> None:
    if not is_postgres(platform.engine):
        pytest.skip("a server ending a session is a PostgreSQL matter")
    stmt = DriverStatement(text("SELECT pg_backend_pid() AS pid"), names=("pid",))
    s = platform.Session()
    try:
        [row] = stmt.rows(s.connection(), {})
        with platform.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": row.pid})
            admin.commit()
        with pytest.raises(DBAPIError) as info:
            for _ in range(50):  # the termination reaches the session at its next statement
                stmt.rows(s.connection(), {})
        assert info.value.connection_invalidated
    finally:
        s.close()
    # The pool hands out a live connection afterwards, not the dead one.
    with platform.transaction() as s2:
        [again] = stmt.rows(s2.connection(), {})
    assert again.pid != row.pid
