"""Read models of the console pages: counts, series and filtered lists, always per organization."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, Membership, MembershipStatus, Organization, User


def members_by_source(session: Session, org: Organization) -> dict[str, int]:
    """Active members per source, largest first."""
    rows = session.execute(select(Membership.source, func.count()).where(
        Membership.organization_id == org.id, Membership.status == MembershipStatus.ACTIVE)
        .group_by(Membership.source)).all()
    return dict(sorted(((s, n) for s, n in rows), key=lambda r: -r[1]))


def status_counts(session: Session, org: Organization) -> dict[str, int]:
    rows = session.execute(select(Membership.status, func.count()).where(
        Membership.organization_id == org.id).group_by(Membership.status)).all()
    return {s: n for s, n in rows}


def source_series(session: Session, org: Organization, days: int = 30,
                  today: date | None = None) -> tuple[list[date], dict[str, list[int]]]:
    """Active members by source, counted cumulatively by the day they joined (last ``days``)."""
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=days - 1)
    start_at = datetime.combine(start, time.min, tzinfo=UTC)
    active = (Membership.organization_id == org.id,
              Membership.status == MembershipStatus.ACTIVE)
    base = dict(session.execute(select(Membership.source, func.count()).where(
        *active, Membership.created_at < start_at).group_by(Membership.source)).all())
    day = func.date(Membership.created_at)
    rows = session.execute(select(Membership.source, day, func.count()).where(
        *active, Membership.created_at >= start_at).group_by(Membership.source, day)).all()
    days_list = [start + timedelta(days=i) for i in range(days)]
    added: dict[str, dict[date, int]] = {}
    for source, d, n in rows:
        d = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
        added.setdefault(source, {})[d] = n
    series: dict[str, list[int]] = {}
    for source in sorted(set(base) | set(added)):
        total, points = base.get(source, 0), []
        for d in days_list:
            total += added.get(source, {}).get(d, 0)
            points.append(total)
        series[source] = points
    return days_list, series


def audit_query(org: Organization, *, actor: str | None = None, action: str | None = None,
                source: str | None = None, since: date | None = None,
                until: date | None = None):
    """The audit events of one organization matching the filters, newest first."""
    stmt = select(AuditEvent).where(AuditEvent.organization_id == org.id)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if source:
        stmt = stmt.where(AuditEvent.source == source)
    if since:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(since, time.min,
                                                                    tzinfo=UTC))
    if until:
        stmt = stmt.where(AuditEvent.created_at < datetime.combine(
            until + timedelta(days=1), time.min, tzinfo=UTC))
    return stmt.order_by(AuditEvent.id.desc())


def audit_choices(session: Session, org: Organization) -> dict[str, list[str]]:
    """Distinct actions and sources seen in the organization, for the filter menus."""
    def distinct(col):
        return sorted(session.scalars(select(col).where(
            AuditEvent.organization_id == org.id).distinct().limit(200)))
    return {"action": distinct(AuditEvent.action), "source": distinct(AuditEvent.source)}


def people(session: Session, events: list[AuditEvent]) -> dict[str, str]:
    """Readable names for the users events mention, keyed "user:<id>" (actor or target)."""
    ids = {int(e.actor[5:]) for e in events if e.actor.startswith("user:") and e.actor[5:].isdigit()}
    ids |= {int(e.target_id) for e in events if e.target_type == "user" and e.target_id.isdigit()}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.email, User.username, User.display_name)
                           .where(User.id.in_(ids))).all()
    return {f"user:{i}": (email or username or display or f"user {i}")
            for i, email, username, display in rows}
