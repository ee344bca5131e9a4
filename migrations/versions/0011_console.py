"""Staff console: accounts and server-side sessions; a break-glass grant may belong to a
console user instead of an API key.

Revision ID: 0011_console
Revises: 0009_audit_hash_unindexed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_console"
down_revision = "0010_crm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("totp_secret_ct", sa.LargeBinary(), nullable=True),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("name", name="uq_console_users_name"),
        sa.UniqueConstraint("oidc_subject", name="uq_console_users_oidc_subject"),
    )
    op.create_table(
        "console_sessions",
        # SHA-256 of the cookie's token: a database read does not yield a usable cookie.
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("console_users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("reauth_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.alter_column("api_key_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("console_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_break_glass_grants_console_user_id_console_users",
            "console_users", ["console_user_id"], ["id"],
        )
        batch_op.create_index("ix_break_glass_grants_console_user_id", ["console_user_id"])


def downgrade() -> None:
    with op.batch_alter_table("break_glass_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_break_glass_grants_console_user_id")
        batch_op.drop_constraint(
            "fk_break_glass_grants_console_user_id_console_users", type_="foreignkey"
        )
        batch_op.drop_column("console_user_id")
        batch_op.alter_column("api_key_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
