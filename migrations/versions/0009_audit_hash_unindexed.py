"""audit_events.entry_hash loses its unique index.

The index served no query: entries are looked up by id, by (chain, seq), by customer, actor,
action and time, never by their hash. It enforced nothing the chain does not: (chain, seq) is
unique, every entry names its predecessor's hash, the head trigger refuses an entry that does
not extend its chain, and ``cdp audit verify`` recomputes every hash. On a random 64-character
key it was the costliest index of the table to keep: every append wrote to a random leaf page
(after each checkpoint, a full page image into the WAL). Measured on the read bench's database
(about a million entries), one append and its commit: PostgreSQL CPU 0.31 -> 0.27 ms, wall
time 0.63 -> 0.55 ms (BENCHMARKS.md).

On SQLite the constraint lives in the table definition, so the table is rebuilt (rows kept,
ids and hashes unchanged); the rebuild drops its append-only triggers, which are made again.

Revision ID: 0009_audit_hash_unindexed
Revises: 0008_rows_of_their_record
"""

from __future__ import annotations

from alembic import op

revision = "0009_audit_hash_unindexed"
down_revision = "0008_rows_of_their_record"
branch_labels = None
depends_on = None

TABLE = "audit_events"
CONSTRAINT = "uq_audit_events_entry_hash"


def _sqlite_append_only_triggers() -> None:
    # As 0003 made them: a rebuilt table has none.
    for op_name in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{op_name.lower()}")
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{op_name.lower()} BEFORE {op_name} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {op_name} refused'); END"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(CONSTRAINT, TABLE, type_="unique")
        return
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.drop_constraint(CONSTRAINT, type_="unique")
    _sqlite_append_only_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint(CONSTRAINT, TABLE, ["entry_hash"])
        return
    with op.batch_alter_table(TABLE, recreate="always") as batch:
        batch.create_unique_constraint(CONSTRAINT, ["entry_hash"])
    _sqlite_append_only_triggers()
