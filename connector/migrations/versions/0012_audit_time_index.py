"""drop the audit log's created_at index, which no query uses

Every audit query is one organization's events, newest first: the (organization_id, id)
index serves it, and a date filter narrows those rows (ids grow with time). The global
created_at index served nothing and cost a third of each event's index writes: an import
writes two events per new account (issue 6 benchmark).

Revision ID: 0012_audit_time_index
Revises: 0006_core_link_index
"""
from __future__ import annotations

from alembic import op

revision = "0012_audit_time_index"
down_revision = "0006_core_link_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_created_at", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])
