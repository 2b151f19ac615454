"""Run an import the way the CLI does: save the bytes as an upload, start the job, run it."""
from __future__ import annotations

import csv
import io

from connector import db, orgs
from connector.identity import Actor
from connector.imports import service
from connector.jobs import run_job, serialize
from connector.models import Job

OPERATOR = Actor.operator()


def run_import(app, account: str, data: bytes, filename: str = "users.csv", *,
               dry_run: bool = False, actor: Actor = OPERATOR, **options) -> dict:
    with app.app_context():
        with db.transaction() as s:
            org = orgs.require_org(s, account)
            path = service.save_upload(io.BytesIO(data), filename)
            job_id = service.start_import(s, org, path, filename, actor=actor,
                                          dry_run=dry_run, **options).id
        run_job(job_id)
        with db.transaction() as s:
            job = s.get(Job, job_id)
            out = serialize(job)
            out["errors"] = service.errors(s, job, limit=10_000)
        return out


def report(app, account: str, job_id: int, actor: Actor = OPERATOR) -> list[dict]:
    with app.app_context():
        with db.transaction() as s:
            org = orgs.require_org(s, account)
            fh = service.write_report(s, s.get(Job, job_id), org, actor=actor)
            text = fh.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)
