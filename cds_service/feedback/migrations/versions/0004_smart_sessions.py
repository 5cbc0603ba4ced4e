"""SMART app launches: the server-side session of each (state, PKCE verifier, then the access token).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smart_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("iss", sa.String(2000), nullable=False),
        sa.Column("token_endpoint", sa.String(2000), nullable=False),
        sa.Column("access_token", sa.Text),
        sa.Column("patient", sa.String(64)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_smart_sessions_expires_at", "smart_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("smart_sessions")
