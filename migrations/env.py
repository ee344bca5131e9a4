"""Alembic environment: URL from the caller or CDP_DATABASE_URL; metadata from cdp.models."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text

from cdp.audit.models import schema_compare_filter
from cdp.db import make_engine
from cdp.models import metadata

config = context.config
target_metadata = metadata

# An int64 advisory lock key so two `cdp init` runs never migrate at once on PostgreSQL.
MIGRATION_LOCK = 0x63647061_6C656D62


def _url() -> str:
    return (
        config.attributes.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("CDP_DATABASE_URL", "sqlite:///var/cdp.db")
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                # audit_events' month partitions are not models (cdp/audit/models.py)
                include_object=schema_compare_filter(connection.dialect.name),
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
