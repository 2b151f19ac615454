"""Background jobs: a Huey queue (SQLite file embedded, Redis in production) that carries job
ids, and the core ``jobs`` table that holds each job's status, progress and result."""
from __future__ import annotations

from .queue import enqueue, huey_for, job_loop, run_pending
from .runner import (RUNNERS, claim, create_job, finish, progress, require_job, run_job,
                     serialize)

__all__ = ["RUNNERS", "claim", "create_job", "enqueue", "finish", "huey_for", "job_loop",
           "progress", "require_job", "run_job", "run_pending", "serialize"]
