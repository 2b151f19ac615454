"""Password changes: the one place that writes a password hash after an account exists."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..events import record
from ..identity import Actor, Source
from ..models import User
from ..security import hash_password

MIN_LENGTH = 8  # NIST SP 800-63B §5.1.1.2; the same minimum as the join and invitation pages
MAX_LENGTH = 1024  # argon2 takes any length, but unbounded input is a cheap denial of service


def check_password(password: str) -> None:
    """Refuse passwords that are too short or too long."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InvalidInput(f"Choose a password of at least {MIN_LENGTH} characters.",
                           code="password_too_short")
    if len(password) > MAX_LENGTH:
        raise InvalidInput("That password is too long.", code="password_too_long")


def set_password(session: Session, user: User, new_password: str, actor: Actor, *,
                 must_change: bool = False) -> None:
    """Hash and store a new password; every existing session of the user ends.

    The stamp bump signs out every other session and spends outstanding reset links; the caller
    signs the current session in again with the new stamp when the person changed their own
    password. ``must_change`` marks a temporary password an admin set for the person."""
    check_password(new_password)
    user.password_hash = hash_password(new_password)
    user.must_change_password = must_change
    user.security_stamp += 1
    user.version += 1
    record(session, user.home_organization_id, "user.password_changed", source=Source.MANUAL,
           actor=actor.label, target_type="user", target_id=user.id,
           by_self=actor.user_id == user.id, temporary=must_change)
