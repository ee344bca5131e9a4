"""Shared fixtures: a fresh migrated database per test on SQLite or PostgreSQL.

The backend comes from CDP_TEST_BACKEND (sqlite | postgresql); scripts/test runs the whole
suite once per backend. Every log record of the run is captured, and at the end the run fails
if any value registered with ``register_sensitive`` appears in a log line.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from cdp.config import Config
from cdp.crypto.keyring import Keyring
from cdp.platform import Platform, upgrade_schema

REPO = Path(__file__).resolve().parent.parent
POLICY_DIR = str(REPO / "policies")
BACKEND = os.environ.get("CDP_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("CDP_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL_BASE = os.environ.get("CDP_TEST_PG_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432/")

from tests.logcheck import LOG_SINK, SENSITIVE, register_sensitive  # noqa: E402,F401


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    text = "\n".join(LOG_SINK.lines)
    leaked = sorted(v for v in SENSITIVE if v in text)
    if leaked:
        print(f"\nPERSONAL DATA IN LOGS: {len(leaked)} ingested values appeared in log lines")
        if os.environ.get("CDP_TEST_SHOW_LEAKS"):  # synthetic values; for debugging a leak
            for v in leaked:
                line = next(x for x in LOG_SINK.lines if v in x)
                print(f"  {v!r} in: {line[:300]!r}")
        session.exitstatus = 1
    else:
        print(f"\nlog check: {len(LOG_SINK.lines)} log lines, {len(SENSITIVE)} ingested values, none leaked")


# ---------------------------------------------------------------------------------------
# Databases


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


_counter = itertools.count()


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A migrated template database, made once per run through Alembic."""
    if BACKEND == "postgresql":
        if not _pg_reachable():
            if os.environ.get("CI"):
                pytest.exit("PostgreSQL is not reachable on 127.0.0.1:5432 and CI is set", 3)
            pytest.skip("PostgreSQL not reachable")
        name = f"cdp_t{os.getpid()}_tmpl"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        upgrade_schema(PG_URL_BASE + name)
        yield name
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="cdp-tmpl-"))
        path = tmp / "template.db"
        upgrade_schema(f"sqlite:///{path}")
        yield str(path)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def db_url(template_db: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    if BACKEND == "postgresql":
        name = f"cdp_t{os.getpid()}_{next(_counter)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template_db)
                )
            )
        yield PG_URL_BASE + name
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    else:
        path = tmp_path / "cdp.db"
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def keyring_path(tmp_path: Path) -> str:
    path = tmp_path / "keyring.json"
    Keyring.generate().save(path)
    return str(path)


@pytest.fixture
def config(db_url: str, keyring_path: str, tmp_path: Path) -> Config:
    return Config(
        database_url=db_url,
        keyring_path=keyring_path,
        policy_dir=POLICY_DIR,
        export_dir=str(tmp_path / "exports"),
        testing=True,
    )


@pytest.fixture
def platform(config: Config) -> Iterator[Platform]:
    p = Platform(config)
    yield p
    p.dispose()


@pytest.fixture
def app(config: Config):  # type: ignore[no-untyped-def]
    from cdp.app import create_app

    application = create_app(config)
    yield application
    application.extensions["cdp"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def cli_env(config: Config) -> dict[str, str]:
    """Environment for running `cdp` (CliRunner or subprocess) against this test's database."""
    env = dict(os.environ)
    env.update(
        CDP_DATABASE_URL=config.database_url,
        CDP_KEYRING=config.keyring_path,
        CDP_POLICY_DIR=config.policy_dir,
        CDP_EXPORT_DIR=config.export_dir,
    )
    return env


@pytest.fixture
def make_api_key(platform: Platform):  # type: ignore[no-untyped-def]
    """Create an API key for a role; returns the Authorization header dict."""
    from cdp.access.apikeys import create_key

    def _make(role: str, purpose: str | None = None) -> dict[str, str]:
        with platform.transaction() as session:
            _, key = create_key(session, role)
        headers = {"Authorization": f"Bearer {key}"}
        if purpose:
            headers["X-Purpose-Of-Use"] = purpose
        return headers

    return _make
