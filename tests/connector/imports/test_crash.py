"""A worker killed (SIGKILL) mid-import: the job resumes from its last committed batch in a new
worker, and the result has every row exactly once."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, func, select

from connector import db, orgs
from connector.identity import Actor
from connector.imports import service
from connector.jobs import enqueue
from connector.models import Job, LinkedIdentity, Membership, User

from .helpers import csv_bytes

ROWS = 5000
BATCH = 50


def _worker(app, db_url: str) -> subprocess.Popen:
    env = {**os.environ, "CONNECTOR_DATABASE_URL": db_url,
           "CONNECTOR_INSTANCE_PATH": app.instance_path, "CONNECTOR_SECRET_KEY": "test-secret",
           "CONNECTOR_JOB_STALE_SECONDS": "1", "CONNECTOR_IMPORT_BATCH_SIZE": str(BATCH),
           "CONNECTOR_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-c", "from connector.cli import main; main()", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _job(reader, job_id: int) -> tuple[str, int, dict]:
    # A plain engine (no BEGIN IMMEDIATE): on SQLite a WAL reader never waits for the worker.
    with reader.connect() as conn:
        status, done, result = conn.execute(select(Job.status, Job.progress_done, Job.result)
                                            .where(Job.id == job_id)).one()
    return status, done, dict(result or {})


def _wait(reader, job_id: int, until, timeout: float = 60) -> tuple[str, int, dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = _job(reader, job_id)
        if until(state):
            return state
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} stuck at {state}")


@pytest.mark.slow
def test_killed_worker_resumes_from_last_batch_without_duplicates(app, factory, db_url):
    factory.org("acme")
    rows = [["email", "first_name", "external_id"]] + [
        [f"kid{i}@acme.org", f"Kid{i}", f"K{i}"] for i in range(ROWS)]
    with app.app_context():
        with db.transaction() as s:
            org = orgs.require_org(s, "acme")
            path = service.save_upload(io.BytesIO(csv_bytes(rows)), "kids.csv")
            job_id = service.start_import(s, org, path, "kids.csv", actor=Actor.operator(),
                                          dry_run=False).id
        enqueue(job_id)

    reader = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    first = _worker(app, db_url)
    try:
        status, done, _ = _wait(reader, job_id, lambda st: st[1] >= 4 * BATCH)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    status, done, result = _job(reader, job_id)
    assert status == "running" and 0 < done < ROWS, (status, done)
    # Progress and the rows it counts were committed together: the database agrees.
    with app.app_context():
        members = db.session().scalar(select(func.count()).select_from(Membership))
    assert members == done == result["counts"]["created"]

    time.sleep(1.2)  # let the dead worker's heartbeat go stale
    second = _worker(app, db_url)
    try:
        status, done, result = _wait(reader, job_id, lambda st: st[0] in ("done", "failed"))
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            second.kill()
    assert status == "done", second.stderr.read().decode()[-2000:]
    assert done == ROWS and result["counts"] == {"created": ROWS}
    with app.app_context():
        s = db.session()
        assert s.scalar(select(func.count()).select_from(User)) == ROWS
        assert s.scalar(select(func.count(func.distinct(User.email)))) == ROWS
        assert s.scalar(select(func.count()).select_from(Membership)) == ROWS
        assert s.scalar(select(func.count()).select_from(LinkedIdentity)) == ROWS
