"""key import_rows by (job_id, line), WITHOUT ROWID on SQLite; no key indexes (issue 6)

Every statement reads staged rows by job and line, a batch being one range of lines. With a
surrogate id the table was two trees, the rows and the (job_id, line) index, and each read of
a batch looked every row up through the index. Keyed by (job_id, line), and on SQLite stored
in that order (WITHOUT ROWID), staging writes one tree and a batch reads as one run. The key
indexes served only the in-file duplicate check, which now runs in the file's reader.
``data`` may be NULL: a row the set-based create could take is staged without its cells.

Revision ID: 0013_import_rows_key
Revises: 0011_import_bulk
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_import_rows_key"
down_revision = "0011_import_bulk"
branch_labels = None
depends_on = None
KEYS = (("email_key", "ix_import_rows_email"), ("username_key", "ix_import_rows_username"),
        ("external_key", "ix_import_rows_external"))
DATA = ["job_id", "line", "data", "email_key", "username_key", "external_key", "status",
        "reason", "field", "message", "user_id", "secret", "bulk", "given_name", "family_name",
        "display_name", "role_key"]


def _columns(with_id: bool) -> list[sa.Column]:
    cols = [sa.Column("id", sa.Integer(), nullable=False)] if with_id else []
    return cols + [
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("data", sa.JSON(), nullable=not with_id),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("username_key", sa.String(length=150), nullable=True),
        sa.Column("external_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("display_name", sa.String(length=300), nullable=True),
        sa.Column("role_key", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
    ]


def _swap() -> None:
    """Copy import_rows into import_rows_new (dropping the old table drops its indexes), then
    give it the name."""
    cols = ", ".join(DATA)
    op.execute(f"INSERT INTO import_rows_new ({cols}) SELECT {cols} FROM import_rows")
    op.drop_table("import_rows")
    op.rename_table("import_rows_new", "import_rows")
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("ALTER TABLE import_rows RENAME CONSTRAINT import_rows_new_pkey "
                   "TO import_rows_pkey")
        op.execute("ALTER TABLE import_rows SET (fillfactor = 70)")


def upgrade() -> None:
    op.create_table("import_rows_new", *_columns(False),
                    sa.PrimaryKeyConstraint("job_id", "line", name="import_rows_new_pkey"),
                    sqlite_with_rowid=False)
    _swap()


def downgrade() -> None:
    # The earlier schema wants every row's cells; rows staged without them keep their
    # outcome and normalized keys, with empty cells.
    op.execute("UPDATE import_rows SET data = '{}' WHERE data IS NULL")
    op.create_table("import_rows_new", *_columns(True),
                    sa.PrimaryKeyConstraint("id", name="import_rows_new_pkey"),
                    sa.UniqueConstraint("job_id", "line"))
    _swap()
    for key, name in KEYS:
        op.create_index(name, "import_rows", ["job_id", key, "line"],
                        sqlite_where=sa.text(f"{key} IS NOT NULL"),
                        postgresql_where=sa.text(f"{key} IS NOT NULL"))
