"""Backup and restore (docs/operations-backup.md): a restored database with its keyring
serves every value and its audit log verifies; with any other keyring nothing decrypts.

PostgreSQL: ``pg_dump -Fc`` then ``pg_restore`` into a new database. SQLite: the online
backup API (``sqlite3.Connection.backup``), taken while the service holds the database open.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from cdp.cli import cli
from cdp.config import Config
from cdp.crypto.keyring import Keyring
from tests.access.fixtures import FULL_RECORD, record_variant

# As tests/conftest.py has them (importing tests.conftest would make a second copy of it).
BACKEND = os.environ.get("CDP_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("CDP_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL_BASE = os.environ.get("CDP_TEST_PG_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432/")


def _ingest_and_read(client: Any, make_api_key: Any) -> tuple[str, dict[str, Any]]:
    writer = make_api_key("ingest_service")
    records = [dict(FULL_RECORD, source_record_id="backup-0")] + [
        record_variant(f"backup-{i}", i, []) for i in range(1, 4)
    ]
    r = client.post("/v1/records", json=records, headers=writer)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    cid = (body["results"] if isinstance(body, dict) else body)[0]["customer_id"]
    reader = make_api_key("customer_service", "customer_support")
    view = client.get(f"/v1/customers/{cid}", headers=reader)
    assert view.status_code == 200
    return cid, view.get_json()


@pytest.fixture
def restored_url(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A function that backs up the test database and restores it somewhere new, by the
    procedure of docs/operations-backup.md; yields (new url, take backup)."""
    made: list[str] = []

    def take() -> str:
        if BACKEND == "postgresql":
            source = db_url.rsplit("/", 1)[1]
            dump = tmp_path / "cdp.dump"
            subprocess.run(
                ["pg_dump", "-Fc", "-h", "127.0.0.1", "-U", "postgres", "-f", str(dump), source],
                check=True,
            )
            target = f"{source}_restored_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
            made.append(target)
            subprocess.run(
                ["pg_restore", "--exit-on-error", "-h", "127.0.0.1", "-U", "postgres",
                 "-d", target, str(dump)],
                check=True,
            )
            return PG_URL_BASE + target
        source_path = db_url.removeprefix("sqlite:///")
        target_path = tmp_path / "restored.db"
        with sqlite3.connect(source_path) as src, sqlite3.connect(target_path) as dst:
            src.backup(dst)  # consistent while writers keep the source open
        return f"sqlite:///{target_path}"

    yield db_url, take
    for name in made:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args), env=env)
    return res.exit_code, res.output


def test_restore_with_the_keyring_serves_every_value_and_verifies(
    client, make_api_key, config: Config, cli_env: dict[str, str], restored_url, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cid, view = _ingest_and_read(client, make_api_key)
    code, out = _cli(cli_env, "audit", "checkpoint")
    assert code == 0, out
    code, before = _cli(cli_env, "restore-check")
    assert code == 0, before
    code, verified_before = _cli(cli_env, "audit", "verify", "--workers", "1")
    assert code == 0, verified_before
    entries_before = int(verified_before.split("intact: ")[1].split(" ")[0])

    _, take = restored_url
    new_url = take()
    env = dict(cli_env, CDP_DATABASE_URL=new_url)
    code, out = _cli(env, "restore-check")
    assert code == 0, out
    assert out.startswith("every value decrypts")
    assert out.split(":")[1] == before.split(":")[1]  # the same number of values and columns
    assert int(out.split(": ")[1].split(" ")[0]) > 10
    code, out = _cli(env, "audit", "verify", "--workers", "1")
    assert code == 0, out
    # the source's own verify entry was written after its count: one more, no fewer
    assert f"intact: {entries_before + 1} entries" in out and "1 signed checkpoints" in out

    # The restored service shows the same person to the same kind of reader.
    from dataclasses import replace

    from cdp.app import create_app

    app = create_app(replace(config, database_url=new_url))
    try:
        reader = make_api_key("customer_service", "customer_support")  # a key of the source...
        r = app.test_client().get(f"/v1/customers/{cid}", headers=reader)
        assert r.status_code == 401  # ... made after the backup: unknown to the restore
        from cdp.access.apikeys import create_key

        with app.extensions["cdp"].transaction() as s:
            _, key = create_key(s, "customer_service")
        r = app.test_client().get(
            f"/v1/customers/{cid}",
            headers={"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "customer_support"},
        )
        assert r.status_code == 200
        restored = r.get_json()
        assert restored["customer_id"] == view["customer_id"]
        assert "张三丰" in str(restored) and str(restored).count("138****5678") >= 1
    finally:
        app.extensions["cdp"].dispose()


def test_restore_without_the_keyring_decrypts_nothing(
    client, make_api_key, cli_env: dict[str, str], restored_url, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _ingest_and_read(client, make_api_key)
    code, out = _cli(cli_env, "audit", "checkpoint")
    assert code == 0, out
    _, take = restored_url
    new_url = take()
    other = tmp_path / "other-keyring.json"
    Keyring.generate().save(other)
    env = dict(cli_env, CDP_DATABASE_URL=new_url, CDP_KEYRING=str(other))
    code, out = _cli(env, "restore-check")
    assert code == 1
    assert out.startswith("DECRYPTION FAILED") and out.rstrip().endswith("; 0 opened")
    # The log's checkpoints were signed by the lost keyring: they do not verify under another
    # key, but do under the public key kept apart (escrowed) with the backup procedure.
    code, out = _cli(env, "audit", "verify", "--workers", "1")
    assert code == 1 and "signature does not verify" in out
    public = _cli(cli_env, "audit", "public-key")[1].strip()
    code, out = _cli(env, "audit", "verify", "--workers", "1", "--public-key", public)
    assert code == 0, out


def test_restore_check_counts_crypto_shredded_values_apart(
    client, make_api_key, platform, cli_env: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    """An erased customer's values (data keys destroyed on purpose) do not open, and are not
    an error: the check says how many there are and still passes."""
    cid, _ = _ingest_and_read(client, make_api_key)
    code, before = _cli(cli_env, "restore-check")
    assert code == 0 and "(0 crypto-shredded" in before
    with platform.transaction() as s:
        assert platform.keys.shred(s, cid) >= 1
    code, out = _cli(cli_env, "restore-check")
    assert code == 0, out
    opened_before = int(before.split(": ")[1].split(" ")[0])
    opened_after = int(out.split(": ")[1].split(" ")[0])
    shredded = int(out.split("(")[1].split(" ")[0])
    assert shredded > 0 and opened_after + shredded == opened_before
