"""audit_events partitioned by month on PostgreSQL; audit_segments records archived months.

At 300 audited reads a second the log grows by 26 million entries a day. Partitioned by
month (range on ``at``), an old month can be archived as a signed segment file and detached
(``cdp audit archive``) without a DELETE, which the append-only triggers refuse anyway; the
live table, its indexes and every verification shrink back to the months still held.

PostgreSQL:
- The existing table is kept, not copied: when it holds entries it becomes the partition
  ``audit_events_legacy`` (every ``at`` before the first day of the month after its newest
  entry); when empty it is dropped. Monthly partitions follow, from the current month to
  three months ahead, made by ``cdp_audit_ensure_partitions(months_ahead)`` (SECURITY
  DEFINER, so the scheduled checkpoint job running as ``cdp_app`` keeps them ahead).
  ``audit_events_default`` takes any entry no month partition covers (a clock far off, the
  job stopped for months, an entry written with an old date): an audited act must never
  fail for want of a partition. It is never archived; normally it stays empty.
- A partitioned table's primary key and unique constraints must hold the partition key:
  the key becomes (id, at) and (chain, seq) a plain index. Neither loses a guarantee: ids
  come from one sequence, and the chain-head trigger (kept, on the parent) refuses any entry
  that does not extend its chain by exactly one seq.
- Append-only as before: the row trigger refusing UPDATE/DELETE is defined on the parent and
  PostgreSQL clones it onto every partition; TRUNCATE triggers are statement triggers, so
  each partition gets its own. ``cdp_app`` keeps SELECT, INSERT on the parent and has SELECT
  only on each partition.

SQLite stays one table (a laptop's log does not need it). ``audit_segments`` exists on both
(inserts only), so the verifier reads the same schema everywhere.

Revision ID: 0012_audit_partitions
Revises: 0009_audit_hash_unindexed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_audit_partitions"
down_revision = "0011_console"
branch_labels = None
depends_on = None

APP_ROLE = "cdp_app"
MONTHS_AHEAD = 3
_INDEXES = {
    "ix_audit_events_at": "(at)",
    "ix_audit_events_action": "(action)",
    "ix_audit_events_actor_at": "(actor, at)",
    "ix_audit_events_customer_at": "(customer_id, at)",
    "ix_audit_events_chain_seq": "(chain, seq)",
}

# Makes the month partitions from the current month to ``months_ahead`` months ahead, each
# with its TRUNCATE trigger and with SELECT only for the application role. A month already
# covered (by the legacy partition or an earlier call) is skipped: creating an overlapping
# partition raises invalid_object_definition, caught per month.
ENSURE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION cdp_audit_ensure_partitions(months_ahead integer DEFAULT {MONTHS_AHEAD})
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  m timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  name text;
  made integer := 0;
BEGIN
  FOR i IN 0..months_ahead LOOP
    name := 'audit_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM');
    IF to_regclass(name) IS NULL THEN
      BEGIN
        EXECUTE format(
          'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
          name, m, m + interval '1 month');
        EXECUTE format(
          'CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
          'EXECUTE FUNCTION cdp_append_only()', name || '_no_truncate', name);
        EXECUTE format('REVOKE ALL ON %I FROM {APP_ROLE}', name);
        EXECUTE format('GRANT SELECT ON %I TO {APP_ROLE}', name);
        made := made + 1;
      EXCEPTION
        WHEN invalid_object_definition THEN
          NULL;  -- the month lies inside an existing partition (the legacy one)
        WHEN check_violation THEN
          -- the default partition already holds entries of that month (the job did not
          -- run for months): they stay there; the month gets its partition never.
          RAISE WARNING 'audit_events_default holds entries of %; no partition made', name;
      END;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN made;
END $$
"""


def _create_segments_table() -> None:
    op.create_table(
        "audit_segments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("ends", sa.JSON(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_segments")),
    )


def _pg_upgrade() -> None:
    bind = op.get_bind()
    newest = bind.execute(sa.text("SELECT max(at) FROM audit_events")).scalar()
    for trigger in ("audit_events_no_update_delete", "audit_events_no_truncate",
                    "audit_events_chain_head"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON audit_events")
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_legacy")
    op.execute("ALTER TABLE audit_events_legacy RENAME CONSTRAINT pk_audit_events "
               "TO pk_audit_events_legacy")
    op.execute("ALTER TABLE audit_events_legacy RENAME CONSTRAINT uq_audit_events_chain_seq "
               "TO uq_audit_events_legacy_chain_seq")
    for name in ("ix_audit_events_at", "ix_audit_events_action", "ix_audit_events_actor_at",
                 "ix_audit_events_customer_at"):
        op.execute(f"ALTER INDEX {name} RENAME TO {name.replace('events', 'events_legacy')}")
    # Same columns, NOT NULLs and defaults (the id default keeps drawing on the same sequence).
    op.execute("CREATE TABLE audit_events (LIKE audit_events_legacy INCLUDING DEFAULTS) "
               "PARTITION BY RANGE (at)")
    # The sequence must not die with the legacy partition when that is archived and dropped.
    op.execute("ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
    op.execute("ALTER TABLE audit_events ADD CONSTRAINT pk_audit_events PRIMARY KEY (id, at)")
    for name, cols in _INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events {cols}")
    if newest is None:
        op.execute("DROP TABLE audit_events_legacy")
    else:
        # The parent's key (id, at) replaces the table's own (id) on attach.
        op.execute("ALTER TABLE audit_events_legacy DROP CONSTRAINT pk_audit_events_legacy")
        op.execute(
            "ALTER TABLE audit_events ATTACH PARTITION audit_events_legacy FOR VALUES FROM "
            "(MINVALUE) TO (date_trunc('month', "
            f"TIMESTAMPTZ '{newest.isoformat()}' AT TIME ZONE 'UTC') "
            "AT TIME ZONE 'UTC' + interval '1 month')"
        )
        op.execute("CREATE TRIGGER audit_events_legacy_no_truncate BEFORE TRUNCATE ON "
                   "audit_events_legacy FOR EACH STATEMENT EXECUTE FUNCTION cdp_append_only()")
        op.execute(f"REVOKE ALL ON audit_events_legacy FROM {APP_ROLE}")
        op.execute(f"GRANT SELECT ON audit_events_legacy TO {APP_ROLE}")
    # Append-only, as 0003 made it: row trigger cloned onto every partition, present and future.
    op.execute("CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON "
               "audit_events FOR EACH ROW EXECUTE FUNCTION cdp_append_only()")
    op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
               "FOR EACH STATEMENT EXECUTE FUNCTION cdp_append_only()")
    op.execute("CREATE TRIGGER audit_events_chain_head AFTER INSERT ON audit_events "
               "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION cdp_audit_chain_append()")
    op.execute("CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT")
    op.execute("CREATE TRIGGER audit_events_default_no_truncate BEFORE TRUNCATE ON "
               "audit_events_default FOR EACH STATEMENT EXECUTE FUNCTION cdp_append_only()")
    op.execute(f"REVOKE ALL ON audit_events_default FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON audit_events_default TO {APP_ROLE}")
    op.execute(f"REVOKE ALL ON audit_events FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON audit_events TO {APP_ROLE}")
    op.execute(ENSURE_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION cdp_audit_ensure_partitions(integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION cdp_audit_ensure_partitions(integer) TO {APP_ROLE}")
    op.execute(f"SELECT cdp_audit_ensure_partitions({MONTHS_AHEAD})")
    # audit_segments: inserts only, like the other audit tables.
    op.execute("CREATE TRIGGER audit_segments_no_update_delete BEFORE UPDATE OR DELETE ON "
               "audit_segments FOR EACH ROW EXECUTE FUNCTION cdp_append_only()")
    op.execute("CREATE TRIGGER audit_segments_no_truncate BEFORE TRUNCATE ON audit_segments "
               "FOR EACH STATEMENT EXECUTE FUNCTION cdp_append_only()")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_segments FROM {APP_ROLE}")


def upgrade() -> None:
    _create_segments_table()
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
        return
    for op_name in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_segments_no_{op_name.lower()} BEFORE {op_name} ON "
            f"audit_segments BEGIN SELECT RAISE(ABORT, "
            f"'audit_segments is append-only: {op_name} refused'); END"
        )


def downgrade() -> None:
    # Back to one plain table (every partition still attached is copied into it). Archived
    # months stay archived: their entries are in the segment files, not in the table.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cdp_audit_ensure_partitions(integer)")
        op.execute("ALTER TABLE audit_events RENAME TO audit_events_partitioned")
        op.execute("CREATE TABLE audit_events (LIKE audit_events_partitioned INCLUDING DEFAULTS)")
        op.execute("INSERT INTO audit_events SELECT * FROM audit_events_partitioned")
        op.execute("ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
        op.execute("DROP TABLE audit_events_partitioned CASCADE")
        op.execute("ALTER TABLE audit_events ADD CONSTRAINT pk_audit_events PRIMARY KEY (id)")
        op.execute("ALTER TABLE audit_events ADD CONSTRAINT uq_audit_events_chain_seq "
                   "UNIQUE (chain, seq)")
        for name, cols in _INDEXES.items():
            if name != "ix_audit_events_chain_seq":
                op.execute(f"CREATE INDEX {name} ON audit_events {cols}")
        op.execute("CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON "
                   "audit_events FOR EACH ROW EXECUTE FUNCTION cdp_append_only()")
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION cdp_append_only()")
        op.execute("CREATE TRIGGER audit_events_chain_head AFTER INSERT ON audit_events "
                   "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                   "EXECUTE FUNCTION cdp_audit_chain_append()")
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {APP_ROLE}")
        op.execute("DROP TRIGGER IF EXISTS audit_segments_no_update_delete ON audit_segments")
        op.execute("DROP TRIGGER IF EXISTS audit_segments_no_truncate ON audit_segments")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_segments_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_segments_no_delete")
    op.drop_table("audit_segments")
