"""The Huey queue that carries job ids: SqliteHuey on a file in the instance folder for the
embedded default, RedisHuey when REDIS_URL is set. The queue only says "run job N"; the
``jobs`` table is the truth, so a message lost with a killed worker is re-sent from there."""
from __future__ import annotations

import logging
import os
import threading
import time

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from .. import background, db
from .runner import run_job, stale_jobs

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
RESCAN_SECONDS = 5.0


def huey_for(app: Flask) -> Huey:
    """The app's queue, created once (the task is registered on it by name)."""
    h = app.extensions.get("connector.huey")
    if h is None:
        url = app.config.get("REDIS_URL") or ""
        if url:
            h = RedisHuey("connector-jobs", url=url, results=False)
        else:
            h = SqliteHuey("connector-jobs", filename=os.path.join(app.instance_path, "jobs.db"),
                           results=False)
        app.extensions["connector.huey_task"] = h.task(name="run_job", retries=0)(_run_job_task)
        app.extensions["connector.huey"] = h
    return h


def _run_job_task(job_id: int) -> None:
    # Runs inside the app context the worker loop opens around ``huey.execute``.
    run_job(int(job_id))


def enqueue(job_id: int) -> None:
    """Send "run job N" to the queue; call after the transaction that created the job."""
    app = current_app._get_current_object()
    huey_for(app)
    app.extensions["connector.huey_task"](job_id)


def _drain(app: Flask, h: Huey, stop: threading.Event | None = None) -> int:
    ran = 0
    while stop is None or not stop.is_set():
        task = h.dequeue()
        if task is None:
            break
        with app.app_context():
            h.execute(task)
        ran += 1
    return ran


def _rescan(app: Flask) -> None:
    """Re-send jobs that are queued or running without a heartbeat (their worker died)."""
    with app.app_context():
        with db.transaction() as session:
            ids = stale_jobs(session)
        for job_id in ids:
            log.info("resuming job %s", job_id)
            enqueue(job_id)


def run_pending(app: Flask) -> None:
    """One pass: resume stale jobs and run everything queued (``connector worker --once``)."""
    _rescan(app)
    _drain(app, huey_for(app))


def job_loop(app: Flask, stop: threading.Event) -> None:
    """Run jobs until ``stop`` is set (``connector worker``, or a thread of ``connector serve``)."""
    h = huey_for(app)
    last_scan = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() - last_scan > RESCAN_SECONDS:
                _rescan(app)
                last_scan = time.monotonic()
            if not _drain(app, h, stop):
                stop.wait(POLL_SECONDS)
        except Exception:  # keep the loop alive; the job itself recorded its failure
            log.exception("job loop error")
            stop.wait(POLL_SECONDS)


background.LOOPS.append(job_loop)
background.ONCE.append(run_pending)
