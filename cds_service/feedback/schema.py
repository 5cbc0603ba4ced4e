"""The feedback store's tables. Changes go through a new Alembic revision in migrations/versions/."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

# Each card the service returned: enough to link feedback to what was shown, and no PHI -- no patient, no values.
cards_shown = Table(
    "cards_shown",
    metadata,
    Column("uuid", String(64), primary_key=True),
    Column("service_id", String(100), nullable=False),
    Column("hook_instance", String(100), nullable=False),
    Column("finding", String(50), nullable=False),
    Column("severity", String(20)),
    Column("indicator", String(20), nullable=False),
    Column("shown_at", DateTime(timezone=True), nullable=False, index=True),
)

# CDS Hooks 2.0 feedback, one row per (card, outcome, outcomeTimestamp): a retried POST never duplicates.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(64), nullable=False, index=True),
    Column("service_id", String(100), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("outcome_timestamp", String(40), nullable=False),  # normalised ISO 8601 UTC, for exact idempotency
    Column("accepted_suggestions", Text),  # JSON list of suggestion uuids
    Column("override_system", String(200)),
    Column("override_code", String(200)),
    Column("override_display", String(500)),
    Column("has_comment", Boolean, nullable=False, default=False),  # userComment may hold PHI: not kept
    Column("unknown_card", Boolean, nullable=False),  # no card with this uuid was recorded as shown
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_card_outcome_time"),
)

# R9 drug identity, evidence 5: what the terminology service said of an RxNorm code (the ingredients, as JSON), so a
# restart does not forget it. Codes and ingredient names only: no PHI.
terminology_answers = Table(
    "terminology_answers",
    metadata,
    Column("system", String(200), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("ingredients", Text, nullable=False),  # JSON list of [code, name]
    Column("answered_at", DateTime(timezone=True), nullable=False),
)

# CDS Hooks 2.0 security: JWT ids already accepted, until their token expires -- shared by every worker and every
# replica that uses this database (the replay cache by default). A SHA-256 digest of an issuer and a jti: no PHI.
jwt_ids = Table(
    "jwt_ids",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

# SMART app launches (cds_service/smart.py): the server-side session a browser holds only the id of. Each row is one
# launch: its state and PKCE verifier until the EHR answers, then the access token until it expires -- never in the
# browser, never in a URL.
smart_sessions = Table(
    "smart_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("state", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("iss", String(2000), nullable=False),
    Column("token_endpoint", String(2000), nullable=False),
    Column("access_token", Text),
    Column("patient", String(64)),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
