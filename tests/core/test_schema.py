"""The schema is made by Alembic only, and the models agree with the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cdp.audit.models import schema_compare_filter
from cdp.db import make_engine
from cdp.models import metadata


def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_object": schema_compare_filter(conn.dialect.name),
        })
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_every_model_table_exists(db_url: str) -> None:
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables


def test_init_is_idempotent(cli_env: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    from click.testing import CliRunner

    from cdp.cli import cli

    env = dict(cli_env, CDP_KEYRING=str(tmp_path / "new" / "keyring.json"))
    runner = CliRunner()
    first = runner.invoke(cli, ["init"], env=env)
    assert first.exit_code == 0, first.output
    assert "keyring created" in first.output
    mode = stat.S_IMODE(os.stat(env["CDP_KEYRING"]).st_mode)
    assert mode == 0o600
    second = runner.invoke(cli, ["init"], env=env)
    assert second.exit_code == 0 and "keyring present" in second.output
