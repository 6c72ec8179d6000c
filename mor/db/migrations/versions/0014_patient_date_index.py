"""each date of a resource beside its patient

A patient's readings of the last fortnight are then one range of an index however
long their history (mor.fhir.search.patient_dates). Filled here from the date and
reference rows already stored, as the store fills it on every write: each date of a
resource that is not part of a composite, once for each Patient its ``patient``
parameter names.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "idx_patient_date",
        sa.Column("resource_pk", _PK, nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
    )
    op.execute("""
        INSERT INTO idx_patient_date (resource_pk, resource_type, param, patient_id, low,
                                      high)
        SELECT DISTINCT d.resource_pk, d.resource_type, d.param, r.target_id, d.low, d.high
        FROM idx_date d
        JOIN idx_reference r ON r.resource_pk = d.resource_pk AND r.param = 'patient'
             AND r.target_type = 'Patient' AND r.target_id IS NOT NULL
        WHERE d.grp IS NULL AND d.param NOT LIKE '-%'
    """)
    # Built after the rows are in: one sort instead of an insert into the index per row.
    op.create_index("ix_idx_patient_date_lookup", "idx_patient_date",
                    ["resource_type", "param", "patient_id", "high", "low", "resource_pk"])
    op.create_index("ix_idx_patient_date_resource", "idx_patient_date", ["resource_pk"])


def downgrade() -> None:
    op.drop_table("idx_patient_date")
