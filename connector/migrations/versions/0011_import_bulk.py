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
KEYS = (("email_key", "ix_import_rows_email"), ("username_key", "ix_import_rows_username"),
        ("external_key", "ix_import_rows_external"))


def upgrade() -> None:
    with op.batch_alter_table("import_rows") as t:
        t.add_column(sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false()))
        t.add_column(sa.Column("given_name", sa.String(length=200), nullable=True))
        t.add_column(sa.Column("family_name", sa.String(length=200), nullable=True))
        t.add_column(sa.Column("display_name", sa.String(length=300), nullable=True))
        t.add_column(sa.Column("role_key", sa.String(length=20), nullable=True))
    # The key indexes only serve the duplicate check, which never looks for NULL: partial
    # indexes skip the rows without that key (a file without a username column writes none),
    # and carry the line, so the check is answered from the index alone.
    for key, name in KEYS:
        op.drop_index(name, table_name="import_rows")
        op.create_index(name, "import_rows", ["job_id", key, "line"],
                        sqlite_where=sa.text(f"{key} IS NOT NULL"),
                        postgresql_where=sa.text(f"{key} IS NOT NULL"))
    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for a row's outcome update to stay a heap-only (HOT) update:
        # without it, writing 5,000 outcomes adds 5,000 entries to each of the five indexes.
        op.execute("ALTER TABLE import_rows SET (fillfactor = 70)")


def downgrade() -> None:
    for key, name in KEYS:
        op.drop_index(name, table_name="import_rows")
        op.create_index(name, "import_rows", ["job_id", key])
    with op.batch_alter_table("import_rows") as t:
        for name in ("role_key", "display_name", "family_name", "given_name", "bulk"):
            t.drop_column(name)
