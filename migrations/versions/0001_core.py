"""core schema

Revision ID: 0001_core
Revises:
Create Date: 2026-11-24 08:51:08.324429
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('prefix', sa.String(length=24), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('view', sa.JSON(), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_audit_events_entry_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_events_actor_at', ['actor', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_customer_at', ['customer_id', 'at'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('merged_into', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into'], ['customers.id'],
                            name=op.f('fk_customers_merged_into_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_updated_at'), ['updated_at'], unique=False)

    op.create_table('data_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('kek_version', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_data_keys_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_keys'))
    )
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_keys_customer_id'), ['customer_id'], unique=False)

    op.create_table('lineage_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('other_customer_id', sa.String(length=32), nullable=True),
    sa.Column('record_ids', sa.JSON(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_lineage_events_customer_id_customers')),
    sa.ForeignKeyConstraint(['other_customer_id'], ['customers.id'],
                            name=op.f('fk_lineage_events_other_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_events'))
    )
    with op.batch_alter_table('lineage_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lineage_events_customer_id'), ['customer_id'], unique=False)

    op.create_table('source_records',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_record_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('data_key_id', sa.String(length=32), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('content_hmac', sa.String(length=64), nullable=False),
    sa.Column('profile_ct', sa.LargeBinary(), nullable=True),
    sa.Column('orders_ct', sa.LargeBinary(), nullable=True),
    sa.Column('extra_ct', sa.LargeBinary(), nullable=True),
    sa.Column('extra_categories', sa.JSON(), nullable=False),
    sa.Column('has_rx', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_source_records_customer_id_customers')),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                            name=op.f('fk_source_records_data_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_records')),
    sa.UniqueConstraint('source', 'source_record_id', name=op.f('uq_source_records_source_source_record_id'))
    )
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_records_customer_id'), ['customer_id'], unique=False)

    op.create_table('consents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=True),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_consents_customer_id_customers')),
    sa.ForeignKeyConstraint(['record_id'], ['source_records.id'],
                            name=op.f('fk_consents_record_id_source_records'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index('ix_consents_customer_purpose', ['customer_id', 'purpose'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_record_id'), ['record_id'], unique=False)

    op.create_table('identifiers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('bidx', sa.String(length=64), nullable=True),
    sa.Column('value_ct', sa.LargeBinary(), nullable=False),
    sa.Column('data_key_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_identifiers_customer_id_customers')),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                            name=op.f('fk_identifiers_data_key_id_data_keys')),
    sa.ForeignKeyConstraint(['record_id'], ['source_records.id'],
                            name=op.f('fk_identifiers_record_id_source_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identifiers'))
    )
    with op.batch_alter_table('identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identifiers_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identifiers_record_id'), ['record_id'], unique=False)
        batch_op.create_index('ix_identifiers_type_bidx', ['type', 'bidx'], unique=False)

    op.create_table('identity_links',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_identity_links_customer_id_customers')),
    sa.ForeignKeyConstraint(['record_id'], ['source_records.id'],
                            name=op.f('fk_identity_links_record_id_source_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_links'))
    )
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_links_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_links_record_id'), ['record_id'], unique=False)

    op.create_table('interactions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('data_key_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('text_redacted_ct', sa.LargeBinary(), nullable=True),
    sa.Column('text_ct', sa.LargeBinary(), nullable=False),
    sa.Column('entity_types', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_interactions_customer_id_customers')),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'],
                            name=op.f('fk_interactions_data_key_id_data_keys')),
    sa.ForeignKeyConstraint(['record_id'], ['source_records.id'],
                            name=op.f('fk_interactions_record_id_source_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interactions'))
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interactions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interactions_record_id'), ['record_id'], unique=False)

    op.create_table('match_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('bidx', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_match_keys_customer_id_customers')),
    sa.ForeignKeyConstraint(['record_id'], ['source_records.id'],
                            name=op.f('fk_match_keys_record_id_source_records'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_keys'))
    )
    with op.batch_alter_table('match_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_keys_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_match_keys_kind_bidx', ['kind', 'bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_keys_record_id'), ['record_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('match_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_keys_record_id'))
        batch_op.drop_index('ix_match_keys_kind_bidx')
        batch_op.drop_index(batch_op.f('ix_match_keys_customer_id'))

    op.drop_table('match_keys')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interactions_record_id'))
        batch_op.drop_index(batch_op.f('ix_interactions_customer_id'))

    op.drop_table('interactions')
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_links_record_id'))
        batch_op.drop_index(batch_op.f('ix_identity_links_customer_id'))

    op.drop_table('identity_links')
    with op.batch_alter_table('identifiers', schema=None) as batch_op:
        batch_op.drop_index('ix_identifiers_type_bidx')
        batch_op.drop_index(batch_op.f('ix_identifiers_record_id'))
        batch_op.drop_index(batch_op.f('ix_identifiers_customer_id'))

    op.drop_table('identifiers')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_record_id'))
        batch_op.drop_index('ix_consents_customer_purpose')

    op.drop_table('consents')
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_records_customer_id'))

    op.drop_table('source_records')
    with op.batch_alter_table('lineage_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lineage_events_customer_id'))

    op.drop_table('lineage_events')
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_keys_customer_id'))

    op.drop_table('data_keys')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_updated_at'))
        batch_op.drop_index(batch_op.f('ix_customers_status'))

    op.drop_table('customers')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_customer_at')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))
        batch_op.drop_index('ix_audit_events_actor_at')
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
    op.drop_table('api_keys')
