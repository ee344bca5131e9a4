"""CRM: computed profiles, segment membership, model fits, loyalty ledger and tiers,
complaints and their state changes, care-team tasks.

Revision ID: 0010_crm
Revises: 0009_audit_hash_unindexed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_crm"
down_revision = "0009_audit_hash_unindexed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("crm_model_fits",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("model", sa.String(length=32), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=False),
    sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("customers", sa.Integer(), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_model_fits"))
    )
    op.create_table("crm_loyalty_accounts",
    sa.Column("customer_id", sa.String(length=32), nullable=False),
    sa.Column("tier", sa.String(length=32), nullable=False),
    sa.Column("tier_since", sa.Date(), nullable=False),
    sa.Column("tier_until", sa.Date(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_crm_loyalty_accounts_customer_id_customers")),
    sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_crm_loyalty_accounts"))
    )
    op.create_table("crm_loyalty_entries",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("customer_id", sa.String(length=32), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("points", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ref", sa.String(length=80), nullable=True),
    sa.Column("order_ref", sa.String(length=64), nullable=True),
    sa.Column("lot_id", sa.Integer(), nullable=True),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_crm_loyalty_entries_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_loyalty_entries")),
    sa.UniqueConstraint("ref", name=op.f("uq_crm_loyalty_entries_ref"))
    )
    with op.batch_alter_table("crm_loyalty_entries", schema=None) as batch_op:
        batch_op.create_index("ix_crm_loyalty_entries_customer_at", ["customer_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_loyalty_entries_order_ref"), ["order_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_loyalty_entries_lot_id"), ["lot_id"], unique=False)

    op.create_table("crm_segment_members",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("segment", sa.String(length=64), nullable=False),
    sa.Column("customer_id", sa.String(length=32), nullable=False),
    sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_crm_segment_members_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_segment_members"))
    )
    with op.batch_alter_table("crm_segment_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_segment_members_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_crm_segment_members_segment_entered_at", ["segment", "entered_at"], unique=False)
        batch_op.create_index("ix_crm_segment_members_segment_left_at", ["segment", "left_at"], unique=False)

    op.create_table("crm_care_tasks",
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("customer_id", sa.String(length=32), nullable=False),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("ref", sa.String(length=64), nullable=False),
    sa.Column("due_on", sa.Date(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("data_key_id", sa.String(length=32), nullable=True),
    sa.Column("detail_ct", sa.LargeBinary(), nullable=True),
    sa.Column("outcome", sa.String(length=32), nullable=True),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("completed_by", sa.String(length=128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_crm_care_tasks_customer_id_customers")),
    sa.ForeignKeyConstraint(["data_key_id"], ["data_keys.id"], name=op.f("fk_crm_care_tasks_data_key_id_data_keys")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_care_tasks")),
    sa.UniqueConstraint("ref", name=op.f("uq_crm_care_tasks_ref"))
    )
    with op.batch_alter_table("crm_care_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_care_tasks_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_care_tasks_due_on"), ["due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_care_tasks_status"), ["status"], unique=False)

    op.create_table("crm_complaints",
    sa.Column("id", sa.String(length=32), nullable=False),
    sa.Column("customer_id", sa.String(length=32), nullable=False),
    sa.Column("interaction_id", sa.String(length=32), nullable=True),
    sa.Column("origin", sa.String(length=16), nullable=False),
    sa.Column("channel", sa.String(length=64), nullable=False),
    sa.Column("category", sa.String(length=32), nullable=False),
    sa.Column("priority", sa.String(length=16), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("adr_learned_on", sa.Date(), nullable=True),
    sa.Column("adr_serious", sa.Boolean(), nullable=False),
    sa.Column("adr_new", sa.Boolean(), nullable=False),
    sa.Column("adr_death", sa.Boolean(), nullable=False),
    sa.Column("regulatory_due_on", sa.Date(), nullable=True),
    sa.Column("satisfaction", sa.Integer(), nullable=True),
    sa.Column("dsr_id", sa.String(length=32), nullable=True),
    sa.Column("data_key_id", sa.String(length=32), nullable=True),
    sa.Column("description_ct", sa.LargeBinary(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_crm_complaints_customer_id_customers")),
    sa.ForeignKeyConstraint(["data_key_id"], ["data_keys.id"], name=op.f("fk_crm_complaints_data_key_id_data_keys")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_complaints")),
    sa.UniqueConstraint("interaction_id", name=op.f("uq_crm_complaints_interaction_id"))
    )
    with op.batch_alter_table("crm_complaints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_complaints_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_complaints_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_complaints_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_complaints_state"), ["state"], unique=False)

    op.create_table("crm_profiles",
    sa.Column("customer_id", sa.String(length=32), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data_key_id", sa.String(length=32), nullable=False),
    sa.Column("traits_ct", sa.LargeBinary(), nullable=False),
    sa.Column("r_score", sa.Integer(), nullable=True),
    sa.Column("f_score", sa.Integer(), nullable=True),
    sa.Column("m_score", sa.Integer(), nullable=True),
    sa.Column("p_alive", sa.Float(), nullable=True),
    sa.Column("clv_12m", sa.Float(), nullable=True),
    sa.Column("value_score", sa.Integer(), nullable=True),
    sa.Column("profiling_objection", sa.Boolean(), nullable=False),
    sa.Column("next_refill_due", sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_crm_profiles_customer_id_customers")),
    sa.ForeignKeyConstraint(["data_key_id"], ["data_keys.id"], name=op.f("fk_crm_profiles_data_key_id_data_keys")),
    sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_crm_profiles"))
    )
    with op.batch_alter_table("crm_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_profiles_next_refill_due"), ["next_refill_due"], unique=False)

    op.create_table("crm_complaint_events",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("complaint_id", sa.String(length=32), nullable=False),
    sa.Column("from_state", sa.String(length=16), nullable=True),
    sa.Column("to_state", sa.String(length=16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(["complaint_id"], ["crm_complaints.id"], name=op.f("fk_crm_complaint_events_complaint_id_crm_complaints")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_complaint_events"))
    )
    with op.batch_alter_table("crm_complaint_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_complaint_events_complaint_id"), ["complaint_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("crm_complaint_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_complaint_events_complaint_id"))

    op.drop_table("crm_complaint_events")
    with op.batch_alter_table("crm_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_profiles_next_refill_due"))

    op.drop_table("crm_profiles")
    with op.batch_alter_table("crm_complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_complaints_state"))
        batch_op.drop_index(batch_op.f("ix_crm_complaints_opened_at"))
        batch_op.drop_index(batch_op.f("ix_crm_complaints_customer_id"))
        batch_op.drop_index(batch_op.f("ix_crm_complaints_category"))

    op.drop_table("crm_complaints")
    with op.batch_alter_table("crm_care_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_care_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_crm_care_tasks_due_on"))
        batch_op.drop_index(batch_op.f("ix_crm_care_tasks_customer_id"))

    op.drop_table("crm_care_tasks")
    with op.batch_alter_table("crm_segment_members", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_segment_members_segment_left_at")
        batch_op.drop_index("ix_crm_segment_members_segment_entered_at")
        batch_op.drop_index(batch_op.f("ix_crm_segment_members_customer_id"))

    op.drop_table("crm_segment_members")
    with op.batch_alter_table("crm_loyalty_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_loyalty_entries_order_ref"))
        batch_op.drop_index(batch_op.f("ix_crm_loyalty_entries_lot_id"))
        batch_op.drop_index("ix_crm_loyalty_entries_customer_at")

    op.drop_table("crm_loyalty_entries")
    op.drop_table("crm_loyalty_accounts")
    op.drop_table("crm_model_fits")
