"""Indexes for identity resolution at scale.

- ``customers.merged_into``: every merge repoints the customers already merged into the
  absorbed one (``WHERE merged_into = :other``), which without an index read the whole table.
- ``match_keys (kind, bidx, customer_id)`` replaces ``(kind, bidx)``: the blocking lookup
  reads the distinct customers holding each value, now from the index alone (measured on
  SQLite at 100k records: the lookup took half the time).

Revision ID: 0007_resolution_indexes
Revises: 0006_breakglass_reason
"""

from __future__ import annotations

from alembic import op

revision = "0007_resolution_indexes"
down_revision = "0006_breakglass_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customers_merged_into", "customers", ["merged_into"], unique=False)
    op.create_index("ix_match_keys_kind_bidx_customer_id", "match_keys",
                    ["kind", "bidx", "customer_id"], unique=False)
    op.drop_index("ix_match_keys_kind_bidx", table_name="match_keys")


def downgrade() -> None:
    op.create_index("ix_match_keys_kind_bidx", "match_keys", ["kind", "bidx"], unique=False)
    op.drop_index("ix_match_keys_kind_bidx_customer_id", table_name="match_keys")
    op.drop_index("ix_customers_merged_into", table_name="customers")
