"""Break-glass reasons: the stored reason is redacted; the original is kept encrypted under the
customer's data key (so erasing the customer erases it too).

Revision ID: 0006_breakglass_reason
Revises: 0005_merge_heads
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_breakglass_reason"
down_revision = "0005_merge_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_ct", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("data_key_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.drop_column("data_key_id")
        batch_op.drop_column("reason_ct")
