"""where background watchers have read up to

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A watcher (home readings' alerts) resumes after a restart where it stopped, so a
    # reading stored while mor was down is still seen.
    op.create_table(
        "watch_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("watch_cursor")
