"""staging rows of CSV imports and generated accounts

Revision ID: 0004_imports
Revises: 0001_core
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_imports"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("username_key", sa.String(length=150), nullable=True),
        sa.Column("external_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "line"),
    )
    op.create_index("ix_import_rows_email", "import_rows", ["job_id", "email_key"])
    op.create_index("ix_import_rows_username", "import_rows", ["job_id", "username_key"])
    op.create_index("ix_import_rows_external", "import_rows", ["job_id", "external_key"])


def downgrade() -> None:
    op.drop_table("import_rows")
