"""LDAP directory sources and sync runs

Revision ID: 0005_ldap
Revises: 0001_core
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ldap"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ldap_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("start_tls", sa.Boolean(), nullable=False),
        sa.Column("tls_verify", sa.Boolean(), nullable=False),
        sa.Column("ca_file", sa.String(length=500), nullable=True),
        sa.Column("bind_dn", sa.String(length=500), nullable=False),
        sa.Column("bind_password_sealed", sa.Text(), nullable=False),
        sa.Column("base_dn", sa.String(length=500), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("preset", sa.String(length=30), nullable=False),
        sa.Column("user_filter", sa.Text(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("group_kind", sa.String(length=30), nullable=False),
        sa.Column("group_base", sa.String(length=500), nullable=False),
        sa.Column("group_filter", sa.Text(), nullable=False),
        sa.Column("group_roles", sa.JSON(), nullable=False),
        sa.Column("group_sub_orgs", sa.JSON(), nullable=False),
        sa.Column("page_size", sa.Integer(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("max_deactivate_percent", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("allow_signin", sa.Boolean(), nullable=False),
        sa.Column("ignore_referrals", sa.Boolean(), nullable=False),
        sa.Column("watermark", sa.String(length=40), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "name"),
    )
    op.create_index("ix_ldap_sources_organization_id", "ldap_sources", ["organization_id"])
    op.create_table(
        "ldap_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("confirm_deactivations", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["ldap_sources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ldap_runs_source", "ldap_runs", ["source_id", "id"])
    op.create_index("ix_ldap_runs_status", "ldap_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_ldap_runs_status", table_name="ldap_runs")
    op.drop_index("ix_ldap_runs_source", table_name="ldap_runs")
    op.drop_table("ldap_runs")
    op.drop_index("ix_ldap_sources_organization_id", table_name="ldap_sources")
    op.drop_table("ldap_sources")
