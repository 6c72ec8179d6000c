"""composite parameter groups in the search index

Rows indexed for one value of a composite search parameter share a group
number, so a search can match all its components within the same value.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_TABLES = ("idx_string", "idx_token", "idx_reference", "idx_date", "idx_number",
           "idx_quantity", "idx_uri")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("grp", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("grp")
