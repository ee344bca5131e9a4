"""The chain-head trigger moves the head of a single appended entry in one statement.

Every customer read appends one audit entry, and the statement trigger that keeps
``audit_chain_heads`` current ran four statements for it (seed the head, lock it, check the
entry extends it, move it): about a third of the PostgreSQL CPU of the append. An INSERT of
exactly one entry now tries one UPDATE first, which moves the head only if the entry
extends it (seq one past the head's, prev_hash equal to the head's hash), under the row
lock the UPDATE takes. When it moves nothing (several entries, a head not seeded yet, or an
entry that does not extend its head) the general path runs exactly as before and refuses
what it refused. The guarantee is unchanged: no entry is kept that does not extend its
chain head by one.

PostgreSQL only (SQLite has one chain and no such trigger).

Revision ID: 0013_audit_head_one_entry
Revises: 0012_audit_partitions
"""

from __future__ import annotations

from alembic import op

revision = "0013_audit_head_one_entry"
down_revision = "0012_audit_partitions"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

_GENERAL = f"""
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
"""

_ONE_ENTRY = """
          WITH one AS (SELECT chain, seq, prev_hash, entry_hash, count(*) OVER () AS n
                         FROM new_rows)
          UPDATE audit_chain_heads h SET seq = one.seq, entry_hash = one.entry_hash
            FROM one
           WHERE one.n = 1 AND h.chain = one.chain AND one.seq = h.seq + 1
             AND one.prev_hash = h.entry_hash;
          GET DIAGNOSTICS moved = ROW_COUNT;
          IF moved = 1 THEN
            RETURN NULL;
          END IF;
"""


def _function(body: str, declare: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION cdp_audit_chain_append() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$\n        DECLARE\n{declare}        BEGIN{body}        END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function(_ONE_ENTRY + _GENERAL, "          bad record;\n          moved bigint;\n"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function(_GENERAL, "          bad record;\n"))
