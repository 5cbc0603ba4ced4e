"""JWT ids already accepted: the replay cache every worker and replica shares by default.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jwt_ids",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jwt_ids_expires_at", "jwt_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_table("jwt_ids")
