"""Helpers for audit tests: write entries, run the CLI, bypass the triggers as the owner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from click.testing import CliRunner
from sqlalchemy import text

from cdp.audit.log import AuditEntry, record
from cdp.cli import cli
from cdp.db import is_postgres
from cdp.platform import Platform


def write_entries(platform: Platform, n: int, per_tx: int = 1, **kw: object) -> None:
    for i in range(0, n, per_tx):
        with platform.transaction() as s:
            record(
                s,
                *[
                    AuditEntry(
                        actor=f"apikey:test{(i + j) % 3}",
                        role="pharmacist",
                        purpose="pharmacy_care",
                        action="customers.read",
                        customer_id=f"c{(i + j):031d}",
                        categories=["contact", "health"],
                        view={"contact": "masked", "health": "plain"},
                        **kw,
                    )  # type: ignore[arg-type]
                    for j in range(min(per_tx, n - i))
                ],
            )


def run_verify(cli_env: dict[str, str], *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["audit", "verify", *args], env=cli_env)
    return res.exit_code, res.output


@contextmanager
def triggers_dropped(platform: Platform) -> Iterator[None]:
    """As the table owner: remove the append-only triggers, then put the same ones back."""
    engine = platform.engine
    with engine.begin() as conn:
        if is_postgres(engine):
            defs = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t "
                        "JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE c.relname = 'audit_events' AND NOT t.tgisinternal"
                    )
                )
            ]
            names = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE c.relname = 'audit_events' AND NOT t.tgisinternal"
                    )
                )
            ]
            for name in names:
                conn.execute(text(f"DROP TRIGGER {name} ON audit_events"))
        else:
            rows = list(
                conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
                    )
                )
            )
            defs = [r[1] for r in rows]
            for name, _ in rows:
                conn.execute(text(f"DROP TRIGGER {name}"))
    assert defs, "expected append-only triggers on audit_events"
    try:
        yield
    finally:
        with engine.begin() as conn:
            for d in defs:
                conn.execute(text(d))


def tamper(platform: Platform, sql: str, **params: object) -> None:
    with triggers_dropped(platform), platform.engine.begin() as conn:
        conn.execute(text(sql), params)
