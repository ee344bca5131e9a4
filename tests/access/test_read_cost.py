"""What one full customer read costs in round trips: SQL statements and Redis commands.

The read path's CPU is mostly paid per statement and per round trip (issue 19: 300 full
reads/s on 2 cores), so their number is pinned here: a change that adds one (an ORM query
in a view section, a second rate-limit call) fails this test instead of slowly eating the
budget. Each statement is named, so a failure says which one is new.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
import redis

from cdp.db import is_postgres
from tests.access.fixtures import FULL_RECORD, ingest
from tests.statements import statements_on


def _statements_of_one_read(app: Any, client: Any, url: str, headers: dict[str, str]) -> list[str]:
    with statements_on(app.extensions["cdp"].engine) as seen:
        r = client.get(url, headers=headers)
    assert r.status_code == 200, r.get_json()
    return [" ".join(statement.split())[:90] for statement in seen]


def test_a_full_read_runs_a_fixed_number_of_statements(app, client, make_api_key) -> None:  # type: ignore[no-untyped-def]
    [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
    headers = make_api_key("customer_service", "customer_support")
    url = f"/v1/customers/{cid}"
    # The key's first use reads and stamps its row; later reads only check its revocation.
    assert client.get(url, headers=headers).status_code == 200
    seen = _statements_of_one_read(app, client, url, headers)
    kinds = [
        "SELECT api_keys.revoked_at",  # the key still live (revocation is immediate)
        "SELECT customers.id AS c_id",  # customer, records, data keys, identifiers
        "SELECT 0 AS src",  # interactions, consents and links in one UNION ALL
        "SELECT crm_profiles.data_key_id",  # the CRM section: traits, points, complaints
    ]
    if is_postgres(app.extensions["cdp"].engine):
        # The audit entry: a chain head locked by its key and the row inserted.
        kinds.append("WITH h AS (SELECT chain, seq, entry_hash FROM audit_chain_heads WHERE chain =")
    else:
        # SQLite: the writer's lock, then the chain's last entry and the insert.
        kinds = ["BEGIN IMMEDIATE", *kinds, "SELECT audit_events.seq", "INSERT INTO audit_events"]
    assert len(seen) == len(kinds), "\n".join(seen)
    for statement, kind in zip(seen, kinds, strict=True):
        assert statement.startswith(kind), "\n".join(seen)


def test_a_full_read_is_two_redis_commands(config, make_api_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis not reachable on 6379")
    from cdp.app import create_app

    app = create_app(replace(config, ratelimit_storage_uri="redis://127.0.0.1:6379/15"))
    try:
        client = app.test_client()
        [cid] = ingest(client, make_api_key("ingest_service"), [FULL_RECORD])
        headers = make_api_key("customer_service", "customer_support")
        headers["X-Correlation-Id"] = uuid.uuid4().hex
        url = f"/v1/customers/{cid}"
        assert client.get(url, headers=headers).status_code == 200
        sent: list[bytes] = []
        real = redis.connection.AbstractConnection.send_packed_command

        def counted(self, command, check_health=True):  # type: ignore[no-untyped-def]
            sent.append(command if isinstance(command, bytes) else b"".join(command))
            return real(self, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
        assert client.get(url, headers=headers).status_code == 200
        # The key's request count and its customer-data budget: one script call each.
        assert len(sent) == 2, sent
        assert all(b"EVALSHA" in c for c in sent), sent
    finally:
        app.extensions["cdp"].dispose()
