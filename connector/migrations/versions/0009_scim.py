"""scim projection tables

Revision ID: 0009_scim
Revises: 0001_core
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_scim"
down_revision = "0001_core"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    s = sa.String
    op.create_table(
        "scim_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(),
                  sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scim_id", s(32), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("user_name", s(300), nullable=False),
        sa.Column("user_name_folded", s(300)),
        sa.Column("external_id", s(300)),
        sa.Column("display_name", s(300)), sa.Column("nick_name", s(200)),
        sa.Column("formatted_name", s(300)), sa.Column("given_name", s(200)),
        sa.Column("family_name", s(200)), sa.Column("middle_name", s(200)),
        sa.Column("honorific_prefix", s(50)), sa.Column("honorific_suffix", s(50)),
        sa.Column("title", s(200)), sa.Column("user_type", s(100)),
        sa.Column("preferred_language", s(50)), sa.Column("locale", s(50)),
        sa.Column("timezone", s(100)), sa.Column("profile_url", s(1000)),
        sa.Column("employee_number", s(100)), sa.Column("cost_center", s(100)),
        sa.Column("organization", s(200)), sa.Column("division", s(200)),
        sa.Column("department", s(200)), sa.Column("manager_id", s(300)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS),
        sa.UniqueConstraint("organization_id", "user_name_folded", name="uq_scim_users_username"),
        sa.UniqueConstraint("organization_id", "external_id", name="uq_scim_users_external_id"),
    )
    op.create_index("ix_scim_users_org_live", "scim_users", ["organization_id", "deleted_at", "id"])
    op.create_index("ix_scim_users_user", "scim_users", ["user_id"])
    op.create_table(
        "scim_user_values",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scim_user_id", sa.Integer(),
                  sa.ForeignKey("scim_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("organization_id", sa.Integer(),
                  sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attr", s(30), nullable=False), sa.Column("type", s(50)),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("value", s(1000)), sa.Column("value_folded", s(1000)),
        sa.Column("display", s(300)), sa.Column("formatted", s(1000)),
        sa.Column("street_address", s(500)), sa.Column("locality", s(200)),
        sa.Column("region", s(200)), sa.Column("postal_code", s(50)),
        sa.Column("country", s(50)),
    )
    op.create_index("ix_scim_user_values_user", "scim_user_values", ["scim_user_id", "attr"])
    op.create_index("ix_scim_user_values_value", "scim_user_values",
                    ["organization_id", "attr", "value_folded"])
    op.create_table(
        "scim_groups",
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("organization_id", sa.Integer(),
                  sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", s(300)),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("organization_id", "external_id", name="uq_scim_groups_external_id"),
    )
    op.create_index("ix_scim_groups_organization_id", "scim_groups", ["organization_id"])


def downgrade() -> None:
    op.drop_table("scim_groups")
    op.drop_table("scim_user_values")
    op.drop_table("scim_users")
