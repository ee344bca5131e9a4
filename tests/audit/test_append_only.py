"""The audit tables accept inserts only: the database itself refuses the rest."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cdp.db import is_postgres
from tests.audit.helpers import write_entries


@pytest.mark.parametrize("table", ["audit_events", "audit_checkpoints"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {t} SET id = id + 0",
        "DELETE FROM {t}",
        "DELETE FROM {t} WHERE id = (SELECT max(id) FROM {t})",
    ],
)
def test_update_and_delete_refused_even_for_owner(
    platform, cli_env, table: str, statement: str
) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from cdp.cli import cli

    write_entries(platform, 3)
    CliRunner().invoke(cli, ["audit", "checkpoint"], env=cli_env)
    with pytest.raises(DBAPIError, match="append-only"), platform.engine.begin() as conn:
        conn.execute(text(statement.format(t=table)))
    with platform.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() >= 1


def test_truncate_refused_on_postgres(platform) -> None:  # type: ignore[no-untyped-def]
    if not is_postgres(platform.engine):
        pytest.skip("SQLite has no TRUNCATE; DELETE without WHERE is refused above")
    write_entries(platform, 2)
    for table in ("audit_events", "audit_checkpoints"):
        with pytest.raises(DBAPIError, match="append-only"), platform.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table}"))
    with platform.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 2


def test_application_role_has_no_update_or_delete_privilege(platform, db_url: str) -> None:  # type: ignore[no-untyped-def]
    if not is_postgres(platform.engine):
        pytest.skip("privileges are a PostgreSQL feature")
    write_entries(platform, 2)
    dbname = db_url.rsplit("/", 1)[1]
    with psycopg.connect(f"postgresql://cdp_app@127.0.0.1:5432/{dbname}") as conn:
        # The service role can append and read ...
        conn.execute("SELECT count(*) FROM audit_events").fetchone()
        conn.execute("SELECT count(*) FROM customers").fetchone()
        for sql in (
            "UPDATE audit_events SET actor = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(sql)
            conn.rollback()
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}") as conn:
        grants = {
            r[0]
            for r in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'cdp_app' AND table_name = 'audit_events'"
            )
        }
    assert {"SELECT", "INSERT"} <= grants
    assert not grants & {"UPDATE", "DELETE", "TRUNCATE"}
