"""Staging rows of bulk jobs (CSV imports and generated accounts): one row per input line, with
its outcome once its batch commits. Duplicate detection and resumption happen here, in the
database, so a worker's memory stays flat however large the file."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class ImportRow(Base):
    __tablename__ = "import_rows"
    # Keyed by (job_id, line), the way every statement reads it: a batch is one range of the
    # key. On SQLite the table is WITHOUT ROWID, stored in that key's order: a batch's rows
    # are read as one run, not by index lookups, and staging writes one tree, not two. No
    # other index: the in-file duplicate check runs in the file's reader (stage.Keys).
    # (Migration 0013_import_rows_key.) On PostgreSQL the table has fillfactor 70: room on
    # each page for the outcome update to stay heap-only.
    __table_args__ = {"sqlite_with_rowid": False}

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The line's cells by field, as read; None for a row the set-based create could take
    # with nothing but derivable fields (see ``cells``): encoding them was the reader's
    # largest cost.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    email_key: Mapped[str | None] = mapped_column(String(320))
    username_key: Mapped[str | None] = mapped_column(String(150))
    external_key: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(20))   # an Outcome once processed
    reason: Mapped[str | None] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(40))    # the column the error is about
    message: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(Integer)
    # A generated password, sealed (Fernet) until its sheet is downloaded once, then erased.
    secret: Mapped[str | None] = mapped_column(Text)
    # A row the pipeline's set-based create may take (pipeline.bulk.prepare), with the
    # normalized values it inserts; every other row goes through pipeline.provision.
    bulk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(300))
    role_key: Mapped[str | None] = mapped_column(String(20))

    @property
    def values(self) -> dict[str, str]:
        return cells(self)


# The fields of a row staged without its cells: each is kept, normalized, in a column.
DERIVED = {"email": "email_key", "username": "username_key", "first_name": "given_name",
           "last_name": "family_name", "role": "role_key", "external_id": "external_key"}


def cells(row: Any) -> dict[str, str]:
    """A staged row's cells by field (an ImportRow or a Core row of import_rows): as read
    from the file, or, for a row staged without them, its normalized values (the email
    case-folded, names with single spaces)."""
    if row.data is not None:
        return row.data
    return {field: v for field, column in DERIVED.items() if (v := getattr(row, column))}
