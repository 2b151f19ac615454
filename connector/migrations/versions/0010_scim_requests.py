"""scim request log for the console

Revision ID: 0010_scim_requests
Revises: 0009_scim
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_scim_requests"
down_revision = "0009_scim"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scim_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(),
                  sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_id", sa.Integer()),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("scim_type", sa.String(40)),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_scim_requests_org", "scim_requests", ["organization_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_scim_requests_org", table_name="scim_requests")
    op.drop_table("scim_requests")
