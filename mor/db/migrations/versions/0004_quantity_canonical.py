"""quantities in UCUM base units

Each quantity row keeps its value converted to UCUM base units (5.4 mg is
0.0054 g), so a search in one unit finds values stored in another unit of the
same kind. Rows written before this migration get them from `mor db reindex`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("idx_quantity", sa.Column("canonical_value", sa.Double(), nullable=True))
    op.add_column("idx_quantity", sa.Column("canonical_code", sa.Text(), nullable=True))
    op.create_index("ix_idx_quantity_canonical", "idx_quantity",
                    ["resource_type", "param", "canonical_code", "canonical_value"])


def downgrade() -> None:
    op.drop_index("ix_idx_quantity_canonical", table_name="idx_quantity")
    with op.batch_alter_table("idx_quantity") as batch_op:
        batch_op.drop_column("canonical_code")
        batch_op.drop_column("canonical_value")
