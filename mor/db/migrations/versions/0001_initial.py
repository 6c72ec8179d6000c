"""resources, versions and search index

Revision ID: 0001
Revises:
Create Date: 2026-11-23 04:06:54.451768
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('resource',
    sa.Column('pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('resource_type', 'id', name='uq_resource_type_id')
    )
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.create_index('ix_resource_type_updated', ['resource_type', 'last_updated'], unique=False)

    op.create_table('idx_date',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('low', sa.BigInteger(), nullable=False),
    sa.Column('high', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_date', schema=None) as batch_op:
        batch_op.create_index('ix_idx_date_lookup', ['resource_type', 'param', 'low', 'high'], unique=False)
        batch_op.create_index('ix_idx_date_resource', ['resource_pk'], unique=False)

    op.create_table('idx_number',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_number', schema=None) as batch_op:
        batch_op.create_index('ix_idx_number_lookup', ['resource_type', 'param', 'value'], unique=False)
        batch_op.create_index('ix_idx_number_resource', ['resource_pk'], unique=False)

    op.create_table('idx_quantity',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('system', sa.Text(), nullable=True),
    sa.Column('code', sa.Text(), nullable=True),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_quantity', schema=None) as batch_op:
        batch_op.create_index('ix_idx_quantity_lookup', ['resource_type', 'param', 'code', 'value'], unique=False)
        batch_op.create_index('ix_idx_quantity_resource', ['resource_pk'], unique=False)

    op.create_table('idx_reference',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('target_url', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_reference', schema=None) as batch_op:
        batch_op.create_index('ix_idx_reference_lookup', ['target_id', 'param', 'target_type'], unique=False)
        batch_op.create_index('ix_idx_reference_resource', ['resource_pk'], unique=False)
        batch_op.create_index('ix_idx_reference_url', ['target_url'], unique=False)

    op.create_table('idx_string',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('value_norm', sa.Text(), nullable=False),
    sa.Column('value_exact', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_string', schema=None) as batch_op:
        batch_op.create_index('ix_idx_string_lookup', ['resource_type', 'param', 'value_norm'], unique=False)
        batch_op.create_index('ix_idx_string_resource', ['resource_pk'], unique=False)

    op.create_table('idx_token',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('system', sa.Text(), nullable=True),
    sa.Column('code', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_token', schema=None) as batch_op:
        batch_op.create_index('ix_idx_token_lookup', ['resource_type', 'param', 'code', 'system'], unique=False)
        batch_op.create_index('ix_idx_token_resource', ['resource_pk'], unique=False)

    op.create_table('idx_uri',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], )
    )
    with op.batch_alter_table('idx_uri', schema=None) as batch_op:
        batch_op.create_index('ix_idx_uri_lookup', ['resource_type', 'param', 'value'], unique=False)
        batch_op.create_index('ix_idx_uri_resource', ['resource_pk'], unique=False)

    op.create_table('resource_version',
    sa.Column('resource_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['resource_pk'], ['resource.pk'], ),
    sa.PrimaryKeyConstraint('resource_pk', 'version_id')
    )
    with op.batch_alter_table('resource_version', schema=None) as batch_op:
        batch_op.create_index('ix_resource_version_type_updated', ['resource_type', 'last_updated'], unique=False)
        batch_op.create_index('ix_resource_version_updated', ['last_updated'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resource_version', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_version_updated')
        batch_op.drop_index('ix_resource_version_type_updated')

    op.drop_table('resource_version')
    with op.batch_alter_table('idx_uri', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_uri_resource')
        batch_op.drop_index('ix_idx_uri_lookup')

    op.drop_table('idx_uri')
    with op.batch_alter_table('idx_token', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_token_resource')
        batch_op.drop_index('ix_idx_token_lookup')

    op.drop_table('idx_token')
    with op.batch_alter_table('idx_string', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_string_resource')
        batch_op.drop_index('ix_idx_string_lookup')

    op.drop_table('idx_string')
    with op.batch_alter_table('idx_reference', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_reference_url')
        batch_op.drop_index('ix_idx_reference_resource')
        batch_op.drop_index('ix_idx_reference_lookup')

    op.drop_table('idx_reference')
    with op.batch_alter_table('idx_quantity', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_quantity_resource')
        batch_op.drop_index('ix_idx_quantity_lookup')

    op.drop_table('idx_quantity')
    with op.batch_alter_table('idx_number', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_number_resource')
        batch_op.drop_index('ix_idx_number_lookup')

    op.drop_table('idx_number')
    with op.batch_alter_table('idx_date', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_date_resource')
        batch_op.drop_index('ix_idx_date_lookup')

    op.drop_table('idx_date')
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_type_updated')

    op.drop_table('resource')
