"""Customers carry an encrypted summary of their matching evidence.

Ingest loaded every candidate customer by reading all its records and decrypting and
normalising each profile again; the summary (cdp.identity.summary) is that result, written by
the batch that wrote the customer, under the customer's data key. Both columns are NULL for
existing customers: each one is loaded the long way once more, and gets its summary the next
time a batch writes it or loads it.

Revision ID: 0014_customer_evidence
Revises: 0013_audit_head_one_entry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_customer_evidence"
down_revision = "0013_audit_head_one_entry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("evidence_ct", sa.LargeBinary(), nullable=True))
    op.add_column("customers", sa.Column("evidence_key_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("evidence_key_id")
        batch.drop_column("evidence_ct")
