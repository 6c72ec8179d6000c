"""a backend service may stand for a partner city's instance

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The Organization (in this city's directory) of the partner city the service stands
    # for; it sees only the records of patients who consented to share with that city.
    op.add_column("oauth_client", sa.Column("partner_organization", sa.String(64),
                                            nullable=True))


def downgrade() -> None:
    op.drop_column("oauth_client", "partner_organization")
