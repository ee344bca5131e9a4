"""A read costs no liveness round trip, and a pooled connection the server closed is replaced
at checkout: the request is served, not a 500 (cdp/db/engine.py, instead of pool_pre_ping)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import event

from cdp.db import engine as db_engine
from tests.access.fixtures import FULL_RECORD, ingest


def _pg_admin_url(url: str) -> str:
    # postgresql+psycopg://user@host:port/name -> a libpq URL for the same database
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _read_once(client, make_api_key) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A customer ingested and read once (the pool now holds a used connection)."""
    [customer] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    headers = {**make_api_key("customer_service"), "X-Purpose-Of-Use": "customer_support"}
    url = f"/v1/customers/{customer}"
    assert client.get(url, headers=headers).status_code == 200
    return url, headers


def test_a_read_after_the_server_closed_pooled_connections_is_served(  # type: ignore[no-untyped-def]
    app, client, make_api_key, config
) -> None:
    if not config.database_url.startswith("postgresql"):
        pytest.skip("server-side connection loss is a PostgreSQL matter")
    url, headers = _read_once(client, make_api_key)

    engine = app.extensions["cdp"].engine
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert not [s for s in statements if s.strip().upper() == "SELECT 1"], statements

    # The server ends every other session of this database (restart, failover, an admin).
    with psycopg.connect(_pg_admin_url(config.database_url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for _ in range(100):
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            if left is not None and left[0] == 0:
                break
            time.sleep(0.05)
    for _ in range(3):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.get_json()


def test_a_connection_idle_for_long_is_pinged(app, client, make_api_key, config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if not config.database_url.startswith("postgresql"):
        pytest.skip("the liveness check is the PostgreSQL engine's")
    url, headers = _read_once(client, make_api_key)
    engine = app.extensions["cdp"].engine
    pings: list[object] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real(c))
    assert client.get(url, headers=headers).status_code == 200
    assert pings == []  # recently used: no round trip
    monkeypatch.setattr(db_engine, "POOL_PING_IDLE_SECONDS", 0.0)
    assert client.get(url, headers=headers).status_code == 200
    assert len(pings) >= 1
