"""The terminology service's answers, remembered across restarts (R9 drug identity, evidence 5).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terminology_answers",
        sa.Column("system", sa.String(200), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("ingredients", sa.Text, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("terminology_answers")
