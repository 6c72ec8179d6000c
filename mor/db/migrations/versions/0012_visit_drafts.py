"""drafts of visit notes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 01:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Kept beside the record, not as FHIR resources: a draft is the clinician's own
    # until signed, and saved every few seconds as they type.
    op.create_table(
        "visit_draft",
        sa.Column("encounter_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("saved", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("encounter_id", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("visit_draft")
