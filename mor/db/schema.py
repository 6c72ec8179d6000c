"""The storage schema: resources, their version history, and the search index.

Modelled on the leading FHIR servers: one row per resource holds the current
version, every version is kept in ``resource_version``, and search-index tables
hold one row per indexed value so that a FHIR search compiles to an indexed SQL
query. Index rows point at ``resource.pk`` (a compact integer) rather than the
(type, id) pair so joins stay narrow.

Date-time index values are integers: microseconds since 1970-01-01T00:00:00Z,
the same on SQLite and PostgreSQL, so range comparisons behave identically.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_PK = BigInteger().with_variant(Integer(), "sqlite")

resource = Table(
    "resource",
    metadata,
    Column("pk", _PK, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    # Microseconds since the epoch, UTC; meta.lastUpdated rendered from it.
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    # The current version's JSON, including meta; NULL once deleted.
    Column("content", Text, nullable=True),
    UniqueConstraint("resource_type", "id", name="uq_resource_type_id"),
)
Index("ix_resource_type_updated", resource.c.resource_type, resource.c.last_updated)

resource_version = Table(
    "resource_version",
    metadata,
    Column("resource_pk", _PK, ForeignKey("resource.pk"), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("resource_type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    # HTTP method that produced the version: POST, PUT, PATCH or DELETE.
    Column("method", String(8), nullable=False),
    Column("content", Text, nullable=True),
)
Index("ix_resource_version_updated", resource_version.c.last_updated)
Index(
    "ix_resource_version_type_updated",
    resource_version.c.resource_type,
    resource_version.c.last_updated,
)


def _index_table(name: str, *columns: Column[object]) -> Table:
    # No foreign key to resource: index rows are only ever written by the store beside
    # their resource, and checking one per row cost a bulk import 40 % of its time.
    table = Table(
        name,
        metadata,
        Column("resource_pk", _PK, nullable=False),
        Column("resource_type", String(64), nullable=False),
        Column("param", String(100), nullable=False),
        *columns,
        # Rows of one composite parameter value share a group number (see indexing).
        Column("grp", Integer, nullable=True),
    )
    Index(f"ix_{name}_resource", table.c.resource_pk)
    return table


idx_string = _index_table(
    "idx_string",
    # Lower-cased, accent-folded form used for the default and :contains matches.
    Column("value_norm", Text, nullable=False),
    Column("value_exact", Text, nullable=False),
)
# text_pattern_ops: PostgreSQL uses an index for a LIKE 'prefix%' (the default string
# search) only if it compares by code point; SQLite ignores the option.
Index("ix_idx_string_lookup", idx_string.c.resource_type, idx_string.c.param,
      idx_string.c.value_norm, idx_string.c.resource_pk,
      postgresql_ops={"value_norm": "text_pattern_ops"})

idx_token = _index_table(
    "idx_token",
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    # Display text (Coding.display, CodeableConcept.text, Identifier.type.text) for :text.
    Column("text", Text, nullable=True),
)
# Lookup indexes end with resource_pk: the rows of an exact match then come out in key
# order, so a page of a search reads just its own rows (see sorting.ordered_page). For
# tokens it comes before system, which most codes searched (status=active) do not give:
# testing one resource for a code is then one step of the index, where it was a pass over
# every row of the code (20,000 active plans, for each plan tested: 47 s).
Index("ix_idx_token_lookup", idx_token.c.resource_type, idx_token.c.param, idx_token.c.code,
      idx_token.c.resource_pk, idx_token.c.system)

idx_reference = _index_table(
    "idx_reference",
    # A relative (local) reference is stored as target_type + target_id.
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    # Absolute URLs, canonical references and anything not resolvable locally.
    Column("target_url", Text, nullable=True),
)
Index("ix_idx_reference_lookup", idx_reference.c.target_id, idx_reference.c.param,
      idx_reference.c.target_type, idx_reference.c.resource_pk)
Index("ix_idx_reference_url", idx_reference.c.target_url)

idx_date = _index_table(
    "idx_date",
    # The instant range the value covers: [low, high], microseconds since the epoch.
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
)
Index("ix_idx_date_lookup", idx_date.c.resource_type, idx_date.c.param, idx_date.c.low,
      idx_date.c.high)

# Each date of a resource beside each patient its ``patient`` parameter names: a
# patient's readings of the last two weeks are then one range of this index however
# long their history, where the patient's reference alone matches all of it (see
# mor.fhir.search.patient_dates). Written with the other index rows, never searched
# by name.
idx_patient_date = _index_table(
    "idx_patient_date",
    Column("patient_id", String(64), nullable=False),
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
)
# ``high`` first: ``ge`` (since a day) and a newest-first order both read it.
Index("ix_idx_patient_date_lookup", idx_patient_date.c.resource_type,
      idx_patient_date.c.param, idx_patient_date.c.patient_id, idx_patient_date.c.high,
      idx_patient_date.c.low, idx_patient_date.c.resource_pk)

idx_number = _index_table(
    "idx_number",
    Column("value", Double, nullable=False),
)
Index("ix_idx_number_lookup", idx_number.c.resource_type, idx_number.c.param,
      idx_number.c.value)

idx_quantity = _index_table(
    "idx_quantity",
    Column("value", Double, nullable=False),
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("unit", Text, nullable=True),
    # A UCUM value in base units (mor.fhir.ucum), so units of one kind compare:
    # 5.4 mg and 5400 ug are both 0.0054 g. NULL when the unit does not convert.
    Column("canonical_value", Double, nullable=True),
    Column("canonical_code", Text, nullable=True),
)
Index("ix_idx_quantity_lookup", idx_quantity.c.resource_type, idx_quantity.c.param,
      idx_quantity.c.code, idx_quantity.c.value)
Index("ix_idx_quantity_canonical", idx_quantity.c.resource_type, idx_quantity.c.param,
      idx_quantity.c.canonical_code, idx_quantity.c.canonical_value)

idx_uri = _index_table(
    "idx_uri",
    Column("value", Text, nullable=False),
)
Index("ix_idx_uri_lookup", idx_uri.c.resource_type, idx_uri.c.param, idx_uri.c.value,
      idx_uri.c.resource_pk)

export_job = Table(
    "export_job",
    metadata,
    # A bulk data export (FHIR Bulk Data Access $export), from kick-off to deletion.
    Column("id", String(64), primary_key=True),
    # accepted -> in-progress -> completed | failed; cancelled by DELETE.
    Column("status", String(16), nullable=False),
    Column("level", String(16), nullable=False),  # system, patient or group
    Column("group_id", String(64), nullable=True),
    Column("types", Text, nullable=True),  # JSON list; NULL for every type
    Column("since", BigInteger, nullable=True),
    # Resources changed after this instant are left to the next export.
    Column("transaction_time", BigInteger, nullable=False),
    Column("request_url", Text, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("output", Text, nullable=True),  # JSON list of {type, url, count}
    Column("error", Text, nullable=True),
    Column("progress", Text, nullable=True),
    # Set by the worker running the job while it works; a stale one is taken over.
    Column("heartbeat", BigInteger, nullable=True),
)
Index("ix_export_job_status", export_job.c.status)

import_job = Table(
    "import_job",
    metadata,
    # A bulk data import ($import, the Bulk Data Import "ping and pull" draft).
    Column("id", String(64), primary_key=True),
    # accepted -> in-progress -> completed | failed; cancelled by DELETE.
    Column("status", String(16), nullable=False),
    # JSON: the kick-off as understood ({inputSource, input: [{type, url}]}).
    Column("request", Text, nullable=False),
    Column("transaction_time", BigInteger, nullable=False),
    Column("request_url", Text, nullable=False),
    Column("output", Text, nullable=True),  # JSON: the status body's output and error
    Column("error", Text, nullable=True),
    Column("progress", Text, nullable=True),
    # Set by the worker running the job while it works; a stale one is taken over.
    Column("heartbeat", BigInteger, nullable=True),
)
Index("ix_import_job_status", import_job.c.status)

# -- accounts and OAuth (not clinical data, so ordinary tables) ------------------

account = Table(
    "account",
    metadata,
    Column("id", String(64), primary_key=True),
    # What the person signs in with: a staff login name, an e-mail address or a phone
    # number; stored lower-cased.
    Column("username", String(200), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # Argon2id, with its parameters
    # doctor, nurse, pharmacist, centre-admin, city-admin or patient (mor.auth.roles).
    Column("role", String(32), nullable=False),
    # The FHIR resource the account is: Practitioner/x for staff, Patient/y for patients.
    Column("fhir_user", String(200), nullable=True),
    # JSON list of the Organization ids (health centres) a staff member works for.
    Column("organizations", Text, nullable=True),
    Column("totp_secret", Text, nullable=True),
    # A patient account sees records only once the person's identity was checked.
    Column("verified", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger, nullable=True),
    # Locks in a row: each lasts twice as long as the one before (back-off).
    Column("lockouts", Integer, nullable=False, default=0),
    Column("created", BigInteger, nullable=False),
)

oauth_client = Table(
    "oauth_client",
    metadata,
    # A registered SMART app or backend service.
    Column("client_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    # none (a public app with PKCE), client_secret_basic or private_key_jwt.
    Column("auth_method", String(32), nullable=False),
    Column("grant_types", Text, nullable=False),  # JSON list
    Column("redirect_uris", Text, nullable=False),  # JSON list
    Column("scope", Text, nullable=False),  # the scopes it may ask for, space-separated
    Column("jwks", Text, nullable=True),  # JSON Web Key Set for private_key_jwt
    Column("secret_hash", Text, nullable=True),  # Argon2id of a confidential app's secret
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created", BigInteger, nullable=False),
    # A partner city's instance: the id of its Organization here (migration 0010).
    Column("partner_organization", String(64), nullable=True),
)

oauth_token = Table(
    "oauth_token",
    metadata,
    # Only a SHA-256 of each token is kept: a copy of the database gives no usable token.
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # access or refresh
    # The access and refresh tokens of one grant share it; revoking one revokes both.
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("scope", Text, nullable=False),
    Column("patient", String(64), nullable=True),  # launch/patient context
    Column("issued", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)
Index("ix_oauth_token_grant", oauth_token.c.grant_id)

oauth_assertion = Table(
    "oauth_assertion",
    metadata,
    # The jti of each client assertion used, until it expires: a replayed one is refused.
    Column("client_id", String(64), primary_key=True),
    Column("jti", String(200), primary_key=True),
    Column("expires", BigInteger, nullable=False),
)

login_session = Table(
    "login_session",
    metadata,
    # A person signed in to mor's pages; the browser holds the token in a cookie.
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    # Half-open until the second factor is given: password checked, TOTP not yet.
    Column("complete", Boolean, nullable=False),
    # Sent back in every form, compared on every POST (CSRF).
    Column("csrf_token", String(64), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("address", String(64), nullable=True),
)
Index("ix_login_session_account", login_session.c.account_id)

oauth_code = Table(
    "oauth_code",
    metadata,
    # An authorization code (SMART App Launch), kept as a hash until it is exchanged.
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("patient", String(64), nullable=True),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(8), nullable=True),
    Column("expires", BigInteger, nullable=False),
)

registration = Table(
    "registration",
    metadata,
    # A patient's registration waiting for the one-time code sent to their phone or e-mail.
    Column("id", String(64), primary_key=True),
    Column("details", Text, nullable=False),  # JSON: name, birth date, contact, document
    Column("password_hash", Text, nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("expires", BigInteger, nullable=False),
)

break_glass = Table(
    "break_glass",
    metadata,
    # Emergency access of a clinician to a patient outside their reach: time-limited,
    # with a reason, and every access under it audited as such.
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("started", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
)
Index("ix_break_glass_account", break_glass.c.account_id, break_glass.c.expires)

INDEX_TABLES: dict[str, Table] = {
    "string": idx_string,
    "token": idx_token,
    "reference": idx_reference,
    "date": idx_date,
    "number": idx_number,
    "quantity": idx_quantity,
    "uri": idx_uri,
    # Not a parameter type: rows derived from the date and patient rows above.
    "patient_date": idx_patient_date,
}

visit_draft = Table(
    "visit_draft",
    metadata,
    # What a clinician has typed of a visit's note and not yet signed: theirs alone, not
    # part of the record until signed (then deleted).
    Column("encounter_id", String(64), primary_key=True),
    Column("account_id", String(64), primary_key=True),
    Column("note", Text, nullable=False),  # JSON: mor.services.records.visit_note
    Column("saved", BigInteger, nullable=False),  # microseconds since 1970, UTC
)

watch_cursor = Table(
    "watch_cursor",
    metadata,
    # How far a background watcher has read the store's changes (microseconds since
    # 1970, UTC, of the last resource it saw changed).
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
