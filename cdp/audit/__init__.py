"""Append-only, hash-chained, checkpoint-signed audit log.

Operating it
- Every read or write of personal data calls ``cdp.audit.log.record(session, AuditEntry(...))``
  in the transaction of the act: the entry commits with it or not at all.
- The database refuses UPDATE, DELETE (triggers, SQLite and PostgreSQL) and TRUNCATE
  (PostgreSQL) on ``audit_events`` and ``audit_checkpoints``, for every role.
- On PostgreSQL, migration 0003 creates the role ``cdp_app`` (LOGIN, no password) with
  read/write on every table except UPDATE/DELETE/TRUNCATE on the audit tables. Run
  ``cdp init`` (migrations) as the owner; give ``cdp_app`` a password
  (``ALTER ROLE cdp_app PASSWORD '...'``) and serve with
  ``CDP_DATABASE_URL=postgresql+psycopg://cdp_app:...@host/db``.
- Entries go to one of several hash chains (``log.PG_CHAINS``) so concurrent requests do not
  queue on one chain head. A writer locks and reads a free head in ``audit_chain_heads``
  (``FOR UPDATE SKIP LOCKED``) and inserts all its entries in one statement; a trigger moves
  the head and refuses entries that do not extend it. The heads table is a cache, not
  evidence: verification never reads it.
- ``cdp audit checkpoint`` (or ``POST /v1/audit/checkpoints``) signs every chain's head with
  the keyring's Ed25519 key; the scheduler does it every ``policies/audit.toml``
  ``[checkpoints] every_minutes`` (job ``audit_checkpoint``). Keep the printed JSON elsewhere.
  ``cdp audit verify [--public-key HEX --checkpoint FILE]`` checks chains, hashes and
  checkpoints; ``cdp audit public-key`` prints the key to hand to verifiers.
- On PostgreSQL the log is partitioned by month (migration 0012, ``cdp audit partitions``);
  ``cdp audit archive --before YYYY-MM --out DIR`` writes old months to signed segment files
  (``cdp/audit/archive.py``) and detaches them; verify then continues from the newest
  segment's signed end, and ``cdp audit verify-segment FILE`` checks a file on its own.
  See docs/operations-audit.md.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from cdp.audit.log import COLLECT_KEY, CORRELATION_KEY, record
from cdp.http.context import correlation_id
from cdp.http.lifecycle import add_refusal_keeper, add_session_hook


def _collect(session: Session) -> None:
    session.info[COLLECT_KEY] = []
    correlation = correlation_id()
    if correlation is not None:
        session.info[CORRELATION_KEY] = correlation


def _keep_refusals(session: Session) -> Callable[[Session], None] | None:
    """Denied attempts stay on record when a refused request is rolled back: the audit
    entries of its refusals (every decision but "allow") are appended again on their own."""
    refused = [e for e in session.info.get(COLLECT_KEY, ()) if e.decision != "allow"]
    if not refused:
        return None
    return lambda s: record(s, *refused)


def init_app(app: Flask) -> None:
    """Collect each request's audit entries, and keep a refused request's denials."""
    add_session_hook(app, _collect)
    add_refusal_keeper(app, _keep_refusals)
