"""The job table is the truth: a lost queue message or a dead worker does not lose a job, and
a job runs once however many messages name it."""
from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import update

from connector import db, orgs
from connector.db import utcnow
from connector.identity import Actor
from connector.imports import service
from connector.jobs import claim, enqueue, run_job, run_pending
from connector.models import Job

from .helpers import csv_bytes


def _job(app, factory) -> int:
    factory.org("acme")
    with app.app_context():
        with db.transaction() as s:
            path = service.save_upload(io.BytesIO(csv_bytes([["email"], ["a@acme.org"]])),
                                       "u.csv")
            return service.start_import(s, orgs.require_org(s, "acme"), path, "u.csv",
                                        actor=Actor.operator(), dry_run=False).id


def _status(app, job_id):
    with app.app_context():
        with db.transaction() as s:
            return s.get(Job, job_id).status


def test_a_job_whose_message_was_lost_is_resent_from_the_table(app, factory):
    job_id = _job(app, factory)          # never enqueued: the message is "lost"
    run_pending(app)
    assert _status(app, job_id) == "queued"  # not stale yet
    with app.app_context():
        with db.transaction() as s:
            s.execute(update(Job).where(Job.id == job_id)
                      .values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    run_pending(app)
    assert _status(app, job_id) == "done"


def test_duplicate_messages_run_the_job_once(app, factory):
    job_id = _job(app, factory)
    with app.app_context():
        enqueue(job_id)
        enqueue(job_id)
    run_pending(app)
    assert _status(app, job_id) == "done"
    with app.app_context():
        assert run_job(job_id) == "skipped"


def test_a_running_job_with_a_fresh_heartbeat_cannot_be_claimed_twice(app, factory):
    job_id = _job(app, factory)
    with app.app_context():
        assert claim(job_id) is True
        assert claim(job_id) is False
        with db.transaction() as s:
            s.execute(update(Job).where(Job.id == job_id)
                      .values(heartbeat_at=utcnow() - timedelta(minutes=5)))
        assert claim(job_id) is True   # its worker stopped beating: take it over
