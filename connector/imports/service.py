"""CSV import operations behind the console, the API and the CLI: upload, dry run, commit,
errors and the result report."""
from __future__ import annotations

import os
import secrets
import tempfile
from typing import IO, Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, LimitReached
from ..events import record
from ..identity import Actor, Outcome, Source
from ..jobs import create_job
from ..models import Job, Organization
from .models import ImportRow, cells
from .reader import open_table
from .report import csv_lines

EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx")
REPORT_HEADER = ["line", "outcome", "reason", "column", "message", "user_id", "email",
                 "username", "first_name", "last_name", "external_id", "password"]
PAGE = 5000


def upload_dir() -> str:
    path = os.path.join(current_app.instance_path, "imports")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def save_upload(stream: IO[bytes], filename: str) -> str:
    """Copy an upload to the instance folder in chunks, enforcing the size limit."""
    ext = os.path.splitext(filename or "")[1].lower()
    if ext not in EXTENSIONS:
        raise InvalidInput("Upload a .csv, .tsv, .txt or .xlsx file.", code="unsupported_file")
    limit = int(current_app.config.get("IMPORT_MAX_BYTES", 50 * 1024 * 1024))
    path = os.path.join(upload_dir(), secrets.token_hex(16) + ext)
    size = 0
    with open(path, "wb") as out:
        while chunk := stream.read(1 << 16):
            size += len(chunk)
            if size > limit:
                out.close()
                os.unlink(path)
                raise LimitReached(f"The file is larger than {limit // (1024 * 1024)} MB, the "
                                   "limit; split it into several files.", code="file_too_large")
            out.write(chunk)
    return path


def start_import(session: Session, org: Organization, path: str, filename: str, *,
                 actor: Actor, dry_run: bool, passwords: str = "none",
                 passphrases: bool = False, must_change: bool = True) -> Job:
    """Check the header now (a bad file fails at once), then queue the job."""
    if passwords not in ("none", "generate"):
        raise InvalidInput("passwords is 'none' or 'generate'.", code="invalid_passwords_option")
    try:
        table = open_table(path, filename)
    except InvalidInput:
        os.unlink(path)  # a refused upload is not kept
        raise
    params = {"path": path, "filename": os.path.basename(filename), "dry_run": dry_run,
              "passwords": passwords, "passphrases": passphrases, "must_change": must_change,
              "has_password_column": "password" in table.fields, "actor": actor.label,
              "actor_rank": actor.rank, "actor_user_id": actor.user_id}
    job = create_job(session, org, "csv_import", params, actor=actor)
    job.result = {"unknown_columns": table.unknown, "encoding": table.encoding or None,
                  "delimiter": table.delimiter or None}
    record(session, org.id, "import.dry_run" if dry_run else "import.started",
           source=Source.CSV, actor=actor.label, target_type="job", target_id=job.id,
           filename=params["filename"])
    return job


def commit_import(session: Session, org: Organization, dry: Job, *, actor: Actor) -> Job:
    """Commit the file a finished dry run checked, as a new job."""
    if not dry.params.get("dry_run"):
        raise Conflict("This import was not a dry run.", code="not_a_dry_run")
    if dry.status != "done":
        raise Conflict("The dry run has not finished.", code="dry_run_not_finished")
    if (dry.result or {}).get("committed_by_job"):
        raise Conflict("This dry run was already committed.", code="already_committed")
    p = dry.params
    job = start_import(session, org, p["path"], p["filename"], actor=actor, dry_run=False,
                       passwords=p.get("passwords", "none"),
                       passphrases=bool(p.get("passphrases")),
                       must_change=bool(p.get("must_change", True)))
    job.params = {**job.params, "dry_run_job": dry.id}
    dry.result = {**dry.result, "committed_by_job": job.id}
    return job


def errors(session: Session, job: Job, limit: int = 100) -> list[dict[str, Any]]:
    """Rejected rows with line, column and reason, in file order."""
    rows = session.scalars(select(ImportRow).where(
        ImportRow.job_id == job.id, ImportRow.status == Outcome.REJECTED.value)
        .order_by(ImportRow.line).limit(limit))
    return [{"line": r.line, "column": r.field, "reason": r.reason, "message": r.message}
            for r in rows]


def write_report(session: Session, job: Job, org: Organization, *, actor: Actor) -> IO[bytes]:
    """The per-row report as a CSV file; generated passwords appear once, in the first
    download by the admin who ran the import (then they are erased; the download is audited)."""
    from ..accounts.passwords import unseal
    mine = actor.label == job.created_by
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    after, had_secrets = 0, False
    for line in csv_lines(REPORT_HEADER, []):
        out.write(line.encode("utf-8"))
    while True:
        # Core rows, not ORM objects: nothing accumulates in the session's identity map.
        page = session.execute(select(ImportRow.__table__).where(
            ImportRow.job_id == job.id, ImportRow.line > after).order_by(ImportRow.line)
            .limit(PAGE)).all()
        if not page:
            break
        rows = []
        for r in page:
            d = cells(r)
            pw = unseal(r.secret) if r.secret and mine else ""
            had_secrets = had_secrets or bool(pw)
            rows.append([r.line, r.status or "pending", r.reason or "", r.field or "",
                         r.message, r.user_id or "", d.get("email", ""), d.get("username", ""),
                         d.get("first_name", ""), d.get("last_name", ""),
                         d.get("external_id", ""), pw or ""])
        for line in list(csv_lines([], rows))[1:]:
            out.write(line.encode("utf-8"))
        after = page[-1].line
    if had_secrets:
        session.execute(update(ImportRow).where(ImportRow.job_id == job.id)
                        .values(secret=None))
        record(session, org.id, "import.credentials_downloaded", source=Source.CSV,
               actor=actor.label, target_type="job", target_id=job.id)
    out.seek(0)
    return out
