"""token lookup index: the resource key before the system

Whether one resource has a code (``status=active``, given without a system, as most
codes are searched) is then one step down the index. With the system first, PostgreSQL
testing each of 20,000 plans for ``status=active`` read all 20,000 active rows each
time, when it misjudged how many there are (47 s for one search).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:20:00
"""

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def _recreate(columns: list[str]) -> None:
    op.drop_index("ix_idx_token_lookup", table_name="idx_token")
    op.create_index("ix_idx_token_lookup", "idx_token", columns)


def upgrade() -> None:
    _recreate(["resource_type", "param", "code", "resource_pk", "system"])


def downgrade() -> None:
    _recreate(["resource_type", "param", "code", "system", "resource_pk"])
