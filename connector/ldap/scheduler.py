"""The scheduled job: run queued syncs (API button) and each source's due sync by its interval.
Registered in connector.background, so ``connector worker`` and ``connector serve`` run it."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from .. import background, db
from ..db import utcnow
from ..identity import Actor
from .models import LdapRun, LdapSource, RunStatus
from .sync import execute, queue_run

log = logging.getLogger(__name__)
SCHEDULER = Actor.system("ldap:scheduler")


def due_sources(session, now, full_every: timedelta) -> list[tuple[int, bool]]:
    """(source id, full?) of enabled sources whose interval has passed."""
    out = []
    for s in session.scalars(select(LdapSource).where(LdapSource.enabled.is_(True),
                                                      LdapSource.interval_minutes > 0,
                                                      LdapSource.running_since.is_(None))):
        if s.last_run_at is None or s.last_run_at + timedelta(minutes=s.interval_minutes) <= now:
            # Incremental runs never see deletions: a full run at least every full_every.
            out.append((s.id, s.last_full_at is None or s.last_full_at + full_every <= now))
    return out


def run_due(app: Flask) -> int:
    """One pass: queued runs first, then due sources; returns how many runs executed."""
    done = 0
    with app.app_context():
        full_every = timedelta(hours=float(app.config.get("LDAP_FULL_SYNC_HOURS", 24)))
        session = db.new_session()
        try:
            with session.begin():
                queued = list(session.scalars(select(LdapRun.id).where(
                    LdapRun.status == RunStatus.QUEUED).order_by(LdapRun.id)))
            for run_id in queued:
                execute(run_id)
                done += 1
            with session.begin():
                due = due_sources(session, utcnow(), full_every)
                runs = [queue_run(session, session.get(LdapSource, sid), full=full,
                                  actor=SCHEDULER).id for sid, full in due]
            for run_id in runs:
                execute(run_id)
                done += 1
        finally:
            session.close()
    return done


def ldap_sync_loop(app: Flask, stop: threading.Event) -> None:
    """Run due syncs until ``stop`` is set."""
    every = float(app.config.get("LDAP_SCHEDULER_SECONDS", 30))
    while not stop.is_set():
        try:
            run_due(app)
        except Exception:  # a database hiccup must not kill the worker thread
            log.exception("LDAP scheduler pass failed")
        stop.wait(every)


if ldap_sync_loop not in background.LOOPS:
    background.LOOPS.append(ldap_sync_loop)
    background.ONCE.append(run_due)
