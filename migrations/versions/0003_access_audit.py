"""access & audit: chain stripes and heads, signed checkpoints, break-glass grants, insert-only audit

Revision ID: 0003_access_audit
Revises: 0001_core

On PostgreSQL this also creates the application role ``cdp_app`` (LOGIN, no password: set
one with ``ALTER ROLE cdp_app PASSWORD '...'``) if it is missing. Migrations run as the
owner; the service connects as ``cdp_app``
(``CDP_DATABASE_URL=postgresql+psycopg://cdp_app:PASSWORD@host/db``), which may read and write
every table but has no UPDATE, DELETE or TRUNCATE on the audit tables. Triggers refuse those
statements for everyone, the owner included, on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_access_audit"
down_revision = "0001_core"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_events", "audit_checkpoints")
APP_ROLE = "cdp_app"


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op_name} refused'); END"
            )


def _pg_triggers() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION cdp_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION cdp_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION cdp_append_only()"
        )


# Seeded chain heads (log.PG_CHAINS_DEFAULT); the trigger adds a head for any other chain.
SEEDED_CHAINS = 8
GENESIS = "0" * 64


def _pg_chain_head_trigger() -> None:
    # Runs as the inserting role, once per INSERT statement (a batch of entries costs one
    # trigger, not one per row): keeps audit_chain_heads current and refuses entries that
    # do not extend their chain's head (a writer that computed hashes from a stale head).
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION cdp_audit_chain_append() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          bad record;
        BEGIN
          INSERT INTO audit_chain_heads (chain, seq, entry_hash)
            SELECT DISTINCT chain, 0, '{GENESIS}' FROM new_rows ON CONFLICT DO NOTHING;
          PERFORM 1 FROM audit_chain_heads
            WHERE chain IN (SELECT chain FROM new_rows) ORDER BY chain FOR UPDATE;
          SELECT n.chain, n.seq, h.seq AS head_seq INTO bad
            FROM (SELECT chain, seq, prev_hash,
                         lag(entry_hash) OVER w AS prev_in_batch,
                         row_number() OVER w AS rn
                    FROM new_rows WINDOW w AS (PARTITION BY chain ORDER BY seq)) n
            JOIN audit_chain_heads h ON h.chain = n.chain
           WHERE n.seq <> h.seq + n.rn
              OR n.prev_hash <> coalesce(n.prev_in_batch, h.entry_hash)
           LIMIT 1;
          IF FOUND THEN
            RAISE EXCEPTION 'audit_events: entry (chain %, seq %) does not extend its chain head (seq %)',
              bad.chain, bad.seq, bad.head_seq USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          UPDATE audit_chain_heads h SET seq = l.seq, entry_hash = l.entry_hash
            FROM (SELECT DISTINCT ON (chain) chain, seq, entry_hash
                    FROM new_rows ORDER BY chain, seq DESC) l
           WHERE h.chain = l.chain;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_chain_head AFTER INSERT ON audit_events "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION cdp_audit_chain_append()"
    )


def _pg_app_role() -> None:
    # Roles are cluster-wide: create once, tolerate a concurrent creator.
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            BEGIN
              CREATE ROLE {APP_ROLE} LOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
          END IF;
          EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APP_ROLE}', current_database());
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # Tables made by later migrations (run as the same owner) get the same grants.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"
    )
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {APP_ROLE}")


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.SmallInteger(), nullable=False))
        batch_op.add_column(sa.Column("seq", BigId, nullable=False))
        batch_op.create_unique_constraint("uq_audit_events_chain_seq", ["chain", "seq"])

    heads = op.create_table(
        "audit_chain_heads",
        sa.Column("chain", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chain_heads")),
    )
    op.bulk_insert(
        heads, [{"chain": c, "seq": 0, "entry_hash": GENESIS} for c in range(SEEDED_CHAINS)]
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heads", sa.JSON(), nullable=False),
        sa.Column("entry_count", BigId, nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_break_glass_grants_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_grants")),
    )
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_break_glass_grants_api_key_id"), ["api_key_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_break_glass_grants_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_break_glass_grants_customer_id"), ["customer_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        _pg_triggers()
        _pg_chain_head_trigger()
        _pg_app_role()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS cdp_append_only()")
        op.execute("DROP TRIGGER IF EXISTS audit_events_chain_head ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS cdp_audit_chain_append()")
    else:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_break_glass_grants_customer_id"))
        batch_op.drop_index(batch_op.f("ix_break_glass_grants_created_at"))
        batch_op.drop_index(batch_op.f("ix_break_glass_grants_api_key_id"))
    op.drop_table("break_glass_grants")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_heads")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_events_chain_seq", type_="unique")
        batch_op.drop_column("seq")
        batch_op.drop_column("chain")
