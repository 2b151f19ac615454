"""staged rows carry what the set-based create needs (issue 6 benchmark)

Revision ID: 0011_import_bulk
Revises: 0004_imports
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_import_bulk"
down_revision = "0004_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_rows") as t:
        t.add_column(sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("given_name", sa.String(length=200), nullable=True))
        t.add_column(sa.Column("family_name", sa.String(length=200), nullable=True))
        t.add_column(sa.Column("display_name", sa.String(length=300), nullable=True))
        t.add_column(sa.Column("role_key", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_rows") as t:
        for name in ("role_key", "display_name", "family_name", "given_name", "bulk"):
            t.drop_column(name)
