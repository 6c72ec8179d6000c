"""lookup indexes end with resource_pk

The rows of an exact match (a token, a reference, a URI) then come out of the
index in resource order, so a page of a search in the default order reads its
own rows only, not every match; string lookups can answer from the index alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:00:00
"""

from typing import Any

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# index -> (table, columns before resource_pk)
_INDEXES = {
    "ix_idx_string_lookup": ("idx_string", ["resource_type", "param", "value_norm"]),
    "ix_idx_token_lookup": ("idx_token", ["resource_type", "param", "code", "system"]),
    "ix_idx_reference_lookup": ("idx_reference", ["target_id", "param", "target_type"]),
    "ix_idx_uri_lookup": ("idx_uri", ["resource_type", "param", "value"]),
}


def _recreate(with_resource: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, (table, columns) in _INDEXES.items():
        op.drop_index(name, table_name=table)
        options: dict[str, Any] = ({"postgresql_ops": {"value_norm": "text_pattern_ops"}}
                   if postgresql and table == "idx_string" else {})
        op.create_index(name, table, columns + (["resource_pk"] if with_resource else []),
                        **options)


def upgrade() -> None:
    _recreate(with_resource=True)


def downgrade() -> None:
    _recreate(with_resource=False)
