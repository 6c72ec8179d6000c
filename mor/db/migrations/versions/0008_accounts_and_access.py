"""accounts, OAuth clients and tokens; access index rows

Creates the tables of mor.auth and fills the ``-patient`` access rows (whose
record each resource is part of) for resources stored before access control
existed. Consent grants are read from Consent content, which SQL cannot do:
run ``mor db reindex`` after upgrading a database that already holds Consents.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 15:00:00
"""

import sqlalchemy as sa
from alembic import op

from mor.fhir.access_index import PATIENT_PARAM, patient_links

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(200), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("fhir_user", sa.String(200), nullable=True),
        sa.Column("organizations", sa.Text(), nullable=True),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "oauth_client",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("grant_types", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("secret_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "oauth_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("patient", sa.String(64), nullable=True),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_oauth_token_grant", "oauth_token", ["grant_id"])
    op.create_table(
        "oauth_assertion",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("jti", sa.String(200), primary_key=True),
        sa.Column("expires", sa.BigInteger(), nullable=False),
    )
    _fill_patient_rows()


def _fill_patient_rows() -> None:
    links = " OR ".join(
        f"(resource_type = '{resource_type}' AND param IN "
        f"({', '.join(repr(p) for p in sorted(params))}))"
        for resource_type, params in sorted(patient_links().items()))
    op.execute(f"""
        INSERT INTO idx_reference (resource_pk, resource_type, param, target_type, target_id,
                                   target_url, grp)
        SELECT DISTINCT resource_pk, resource_type, '{PATIENT_PARAM}', 'Patient', target_id,
               CAST(NULL AS TEXT), CAST(NULL AS INTEGER)
        FROM idx_reference
        WHERE target_type = 'Patient' AND target_id IS NOT NULL AND target_url IS NULL
          AND grp IS NULL AND ({links})
        UNION
        SELECT pk, 'Patient', '{PATIENT_PARAM}', 'Patient', id, CAST(NULL AS TEXT),
               CAST(NULL AS INTEGER)
        FROM resource WHERE resource_type = 'Patient' AND deleted = false
    """)


def downgrade() -> None:
    op.execute("DELETE FROM idx_reference WHERE param LIKE '-%'")
    for table in ("oauth_assertion", "oauth_token", "oauth_client", "account"):
        op.drop_table(table)
