"""Lockout after repeated wrong invite codes, per client address and per account. Counters live
in the database, so every worker on every machine sees the same lockout."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import LimitReached
from .models import InviteCodeFailure


def _settings() -> tuple[int, timedelta]:
    cfg = current_app.config
    return (int(cfg.get("INVITE_CODE_LOCKOUT_FAILURES", 10)),
            timedelta(minutes=float(cfg.get("INVITE_CODE_LOCKOUT_MINUTES", 15))))


def check(session: Session, keys: list[str]) -> None:
    """Raise LimitReached while any of ``keys`` is locked out."""
    now = utcnow()
    until = session.scalar(select(InviteCodeFailure.locked_until).where(
        InviteCodeFailure.key.in_(keys), InviteCodeFailure.locked_until > now)
        .order_by(InviteCodeFailure.locked_until.desc()).limit(1))
    if until is not None:
        minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        raise LimitReached(f"Too many wrong codes. Try again in {minutes} minute(s).",
                           code="locked_out")


def record_failure(session: Session, keys: list[str]) -> bool:
    """Count a wrong code against each key; True when this failure locks one of them out."""
    threshold, window = _settings()
    now, locked = utcnow(), False
    for key in keys:
        row = session.scalar(select(InviteCodeFailure).where(InviteCodeFailure.key == key)
                             .with_for_update())
        if row is None:
            try:
                with session.begin_nested():
                    row = InviteCodeFailure(key=key, failures=0, window_started_at=now)
                    session.add(row)
            except IntegrityError:  # another worker inserted it first
                row = session.scalar(select(InviteCodeFailure).where(
                    InviteCodeFailure.key == key).with_for_update())
        if now - row.window_started_at > window:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= threshold:
            row.locked_until = now + window
            locked = True
    return locked


def clear(session: Session, keys: list[str]) -> None:
    session.execute(delete(InviteCodeFailure).where(InviteCodeFailure.key.in_(keys)))
