"""search-index rows without foreign keys

Index rows are written only by the store, in the same transaction as their
resource; checking a foreign key for each of the ~35 rows a resource has made
bulk imports 40 % slower.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_TABLES = ("idx_string", "idx_token", "idx_reference", "idx_date", "idx_number",
           "idx_quantity", "idx_uri")
# SQLite's constraints have no names; this convention gives them one to drop them by.
_NAMING = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def upgrade() -> None:
    for table in _TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.drop_constraint(f"{table}_resource_pk_fkey", table, type_="foreignkey")
        else:
            with op.batch_alter_table(table, naming_convention=_NAMING) as batch_op:
                batch_op.drop_constraint(f"{table}_resource_pk_fkey", type_="foreignkey")


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(f"{table}_resource_pk_fkey", "resource",
                                        ["resource_pk"], ["pk"])
