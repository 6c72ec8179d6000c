"""string index usable for prefix searches on PostgreSQL

A string search matches from the start (LIKE 'value%'); PostgreSQL uses a
b-tree for that only if it compares by code point (text_pattern_ops), unless
the database's collation is "C". Without it, a search on a name or on _content
read every row of its parameter.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:40:00
"""

from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_COLUMNS = ["resource_type", "param", "value_norm"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's LIKE optimisation needs no special index
    op.drop_index("ix_idx_string_lookup", table_name="idx_string")
    op.create_index("ix_idx_string_lookup", "idx_string", _COLUMNS,
                    postgresql_ops={"value_norm": "text_pattern_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_idx_string_lookup", table_name="idx_string")
    op.create_index("ix_idx_string_lookup", "idx_string", _COLUMNS)
