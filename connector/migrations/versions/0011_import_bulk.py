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
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for a row's outcome update to stay a heap-only (HOT) update:
        # without it, writing 5,000 outcomes adds 5,000 entries to each of the five indexes.
        op.execute("ALTER TABLE import_rows SET (fillfactor = 70)")


def downgrade() -> None:
    with op.batch_alter_table("import_rows") as t:
        for name in ("role_key", "display_name", "family_name", "given_name", "bulk"):
            t.drop_column(name)
