"""Claiming outbox rows safely and recording what happened to them.

A worker claims due rows by moving them to ``sending`` with a lease (``next_attempt_at`` = now +
lease) and bumping ``attempts``. Two workers never claim the same row: PostgreSQL skips rows
another worker has locked (FOR UPDATE SKIP LOCKED) and SQLite serializes writers (BEGIN
IMMEDIATE). A worker that dies mid-send leaves a ``sending`` row whose lease runs out; the next
claim takes it again, so nothing is lost. ``attempts`` doubles as a fencing token: a worker whose
lease was taken over can no longer record an outcome for that row."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import OutboxMessage

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclass(frozen=True)
class Claimed:
    """A claimed row, detached from its session: what a transport needs to deliver it."""

    id: int
    organization_id: int | None
    kind: str
    topic: str
    payload: dict
    attempts: int


def _due(now: datetime):
    # A pending row whose time has come, or a sending row whose worker's lease ran out.
    return and_(OutboxMessage.status.in_((PENDING, SENDING)), OutboxMessage.next_attempt_at <= now)


def claim(session: Session, kind: str, limit: int, lease_seconds: float) -> list[Claimed]:
    """Claim up to ``limit`` due rows of ``kind`` for this worker, oldest first."""
    now = utcnow()
    ids = list(session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.kind == kind, _due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
        .with_for_update(skip_locked=True)))
    if not ids:
        return []
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(ids), _due(now))
        .values(status=SENDING, attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False))
    rows = session.execute(select(
        OutboxMessage.id, OutboxMessage.organization_id, OutboxMessage.kind, OutboxMessage.topic,
        OutboxMessage.payload, OutboxMessage.attempts).where(
        OutboxMessage.id.in_(ids), OutboxMessage.status == SENDING)
        .order_by(OutboxMessage.id)).all()
    return [Claimed(*r) for r in rows]


def _mine(msg: Claimed):
    return and_(OutboxMessage.id == msg.id, OutboxMessage.status == SENDING,
                OutboxMessage.attempts == msg.attempts)


def mark_sent(session: Session, msg: Claimed, payload: dict | None = None) -> bool:
    """Record a delivery; False when another worker took the row over meanwhile."""
    values: dict = {"status": SENT, "sent_at": utcnow(), "last_error": ""}
    if payload is not None:
        values["payload"] = payload
    res = session.execute(update(OutboxMessage).where(_mine(msg)).values(**values)
                          .execution_options(synchronize_session=False))
    return res.rowcount == 1


def mark_failed(session: Session, msg: Claimed, reason: str) -> bool:
    """A permanent failure (5xx, unknown template, endpoint gone): no more attempts."""
    res = session.execute(update(OutboxMessage).where(_mine(msg))
                          .values(status=FAILED, last_error=reason[:2000])
                          .execution_options(synchronize_session=False))
    return res.rowcount == 1


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped at an hour."""
    base = float(current_app.config.get("OUTBOX_BACKOFF_SECONDS", 30))
    delay = min(base * 2 ** max(attempts - 1, 0), 3600.0)
    # Jitter spreads retries of a batch that failed together (a whole SMTP outage).
    return delay * random.uniform(0.8, 1.0)


def mark_retry(session: Session, msg: Claimed, reason: str) -> str:
    """A temporary failure: retry later, or give up after OUTBOX_MAX_ATTEMPTS; returns status."""
    if msg.attempts >= int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", 8)):
        mark_failed(session, msg, f"gave up after {msg.attempts} attempts: {reason}")
        return FAILED
    session.execute(update(OutboxMessage).where(_mine(msg)).values(
        status=PENDING, last_error=reason[:2000],
        next_attempt_at=utcnow() + timedelta(seconds=backoff_seconds(msg.attempts)))
        .execution_options(synchronize_session=False))
    return PENDING


def release(session: Session, msgs: list[Claimed], reason: str) -> None:
    """Give back rows this worker claimed but never tried (the connection went down first):
    their attempt does not count."""
    retry_at = utcnow() + timedelta(seconds=backoff_seconds(max((m.attempts for m in msgs),
                                                                default=1)))
    for m in msgs:
        session.execute(update(OutboxMessage).where(_mine(m)).values(
            status=PENDING, attempts=OutboxMessage.attempts - 1, last_error=reason[:2000],
            next_attempt_at=retry_at).execution_options(synchronize_session=False))
