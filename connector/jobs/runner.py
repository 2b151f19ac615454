"""The ``jobs`` table: create, claim, report progress, finish. A job is resumable because every
runner commits its work and its progress in the same transaction, batch by batch."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .. import db
from ..db import utcnow
from ..errors import ConnectorError, NotFound
from ..identity import Actor
from ..models import Job, Organization

log = logging.getLogger(__name__)

# kind -> "module:function"; the function runs one job: runner(job_id, progress_cb).
# Explicit, validated on first use (no import-scanning).
RUNNERS: dict[str, str] = {
    "csv_import": "connector.imports.job:run",
    "generate_accounts": "connector.accounts.job:run",
}
Progress = Callable[[int, int | None], None]


def create_job(session: Session, org: Organization, kind: str, params: dict[str, Any], *,
               actor: Actor, total: int | None = None) -> Job:
    """Add a queued job; the caller commits, then calls ``enqueue(job.id)``."""
    if kind not in RUNNERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(organization_id=org.id, kind=kind, status="queued", params=params, result={},
              progress_done=0, progress_total=total, created_by=actor.label,
              heartbeat_at=utcnow())
    session.add(job)
    session.flush()
    return job


def require_job(session: Session, org: Organization, job_id: int, kind: str | None = None) -> Job:
    """The organization's job, or NotFound (another tenant's job looks missing)."""
    q = select(Job).where(Job.id == job_id, Job.organization_id == org.id)
    if kind:
        q = q.where(Job.kind == kind)
    job = session.scalar(q)
    if job is None:
        raise NotFound(f"No job {job_id} in {org.account}.", code="job_not_found")
    return job


def stale_before() -> Any:
    return utcnow() - timedelta(seconds=float(current_app.config.get("JOB_STALE_SECONDS", 60)))


def claim(job_id: int) -> bool:
    """Take a queued job, or a running one whose worker stopped beating (killed): atomic, so
    two workers never run the same job."""
    now = utcnow()
    with db.engine().begin() as conn:
        res = conn.execute(update(Job).where(
            Job.id == job_id,
            or_(Job.status == "queued", (Job.status == "running") & (Job.heartbeat_at < stale_before())))
            .values(status="running", heartbeat_at=now))
        if res.rowcount != 1:
            return False
        conn.execute(update(Job).where(Job.id == job_id, Job.started_at.is_(None))
                     .values(started_at=now))
    return True


def progress(session: Session, job: Job, done: int, total: int | None = None,
             **result: Any) -> None:
    """Record progress in the caller's transaction (the one that committed the batch)."""
    job.progress_done = done
    if total is not None:
        job.progress_total = total
    if result:
        job.result = {**(job.result or {}), **result}
    job.heartbeat_at = utcnow()


def finish(job_id: int, status: str, error: str = "", **result: Any) -> None:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        job.status = status
        job.error = error
        job.finished_at = utcnow()
        if result:
            job.result = {**(job.result or {}), **result}


def stale_jobs(session: Session) -> list[int]:
    """Jobs a worker should (re)start: queued or running with no heartbeat for a while (a lost
    queue message, or a worker that died). A queued one's clock restarts, so a job waiting
    behind a long one is re-sent once per stale period, not on every scan."""
    ids = list(session.scalars(select(Job.id).where(
        Job.status.in_(("queued", "running")), Job.heartbeat_at < stale_before())
        .order_by(Job.id)))
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids), Job.status == "queued")
                        .values(heartbeat_at=utcnow()))
    return ids


def run_job(job_id: int, on_progress: Progress | None = None) -> str:
    """Claim and run one job to its end in the current app context; return its status."""
    if not claim(job_id):
        return "skipped"
    with db.transaction() as session:
        kind = session.get(Job, job_id).kind
    module, _, fn = RUNNERS[kind].partition(":")
    runner = getattr(importlib.import_module(module), fn)
    try:
        runner(job_id, on_progress or (lambda done, total: None))
    except ConnectorError as err:
        db.session().rollback()
        finish(job_id, "failed", f"{err.message} ({err.code})")
        return "failed"
    except Exception:
        log.exception("job %s failed", job_id)
        db.session().rollback()
        # Never an internal detail in what the API shows.
        finish(job_id, "failed", "The job stopped on an internal error; see the server log.")
        return "failed"
    with db.transaction() as session:
        return session.get(Job, job_id).status


def serialize(job: Job) -> dict[str, Any]:
    """The job as the API and console show it, with its rate in rows per second."""
    from ..api.serialize import iso
    end = job.finished_at or utcnow()
    secs = (end - job.started_at).total_seconds() if job.started_at else 0
    internal = ("cursor", "seats_taken", "phase", "staged")  # resumption state, not for people
    result = {k: v for k, v in (job.result or {}).items() if k not in internal}
    return {"id": job.id, "kind": job.kind, "status": job.status,
            "dry_run": bool((job.params or {}).get("dry_run")),
            "rows_done": job.progress_done, "rows_total": job.progress_total,
            "rate": round(job.progress_done / secs, 1) if secs > 0 else None,
            "result": result, "error": job.error or None, "created_by": job.created_by,
            "created_at": iso(job.created_at), "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at)}
