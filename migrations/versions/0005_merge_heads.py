"""Join the access/audit and exports/rights branches into one head.

Revision ID: 0005_merge_heads
Revises: 0003_access_audit, 0004_exports_rights
"""

from __future__ import annotations

revision = "0005_merge_heads"
down_revision = ("0003_access_audit", "0004_exports_rights")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
