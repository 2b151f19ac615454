"""Reading members and adding them one at a time (writes go through the pipeline)."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from . import pipeline
from .errors import Conflict, InvalidInput, NotFound
from .identity import Actor, Identity, Outcome, Result, Source
from .models import AuditEvent, Membership, MembershipStatus, Organization, User
from .roles import require_role_name


def list_members(session: Session, org: Organization, *, role: str | None = None,
                 status: str | None = None, source: str | None = None, q: str | None = None,
                 after: int = 0, limit: int = 100) -> list[Membership]:
    """Members of one organization, ordered by user id (keyset pagination with ``after``)."""
    stmt = select(Membership).join(User, User.id == Membership.user_id).where(
        Membership.organization_id == org.id, Membership.user_id > after)
    if role:
        stmt = stmt.where(Membership.role == require_role_name(role))
    if status:
        stmt = stmt.where(Membership.status == status)
    else:
        # Deprovisioned ("removed") rows only keep the person out; they are not members.
        stmt = stmt.where(Membership.status != MembershipStatus.REMOVED)
    if source:
        stmt = stmt.where(Membership.source == source)
    if q:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.email.like(like, escape="\\"),
                              User.username.like(like, escape="\\"),
                              User.display_name.ilike(like, escape="\\")))
    return list(session.scalars(stmt.order_by(Membership.user_id).limit(min(limit, 1000))))


def require_member(session: Session, org: Organization, user_id: int) -> Membership:
    return pipeline.require_membership(session, org, user_id)


def find_user(session: Session, ref: str) -> User | None:
    """A live user by id, email or username."""
    ref = ref.strip()
    if ref.isdigit():
        return session.scalar(select(User).where(User.id == int(ref), User.deleted_at.is_(None)))
    col = User.email if "@" in ref else User.username
    return session.scalar(select(User).where(col == ref.lower(), User.deleted_at.is_(None)))


def add_member(session: Session, org: Organization, *, actor: Actor, email: str | None = None,
               username: str | None = None, user_id: int | None = None,
               role: str | None = None, given_name: str | None = None,
               family_name: str | None = None) -> Result:
    """Add one person (creating the account when new) through the pipeline."""
    if role is not None:
        require_role_name(role)
    if not (email or username or user_id):
        raise InvalidInput("Give an email, a username or a user id.", code="missing_identifier")
    [result] = pipeline.provision(session, org, [Identity(
        email=email, username=username, user_id=user_id, role=role, given_name=given_name,
        family_name=family_name)], source=Source.MANUAL, actor=actor)
    if result.outcome is Outcome.REJECTED:
        cls = Conflict if result.reason and result.reason.value.endswith(
            ("taken", "full", "limit", "deactivated")) else InvalidInput
        raise cls(result.message, code=result.reason.value)
    return result


def audit_events(session: Session, org: Organization, *, action: str | None = None,
                 source: str | None = None, actor: str | None = None, before: int | None = None,
                 limit: int = 100) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.organization_id == org.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if source:
        stmt = stmt.where(AuditEvent.source == source)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    return list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(min(limit, 1000))))


def get_user(session: Session, user_id: int) -> User:
    u = session.get(User, user_id)
    if u is None:
        raise NotFound(f"User {user_id} not found.")
    return u
