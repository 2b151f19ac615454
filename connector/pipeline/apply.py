"""Write a batch's plans with bulk Core statements, and record what changed."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..events import EventBatch
from ..identity import Source
from ..models import GroupMember, LinkedIdentity, Membership, Organization, User
from .decide import DEACTIVATED, Plan
from .members import revoke_owned

# Bulk writes use Core statements on the tables: the ORM's bulk machinery costs more per row
# than the database does (issue 6 benchmark).
_USERS = User.__table__
# Built once: building an insert costs more Python time than a batch of one takes to run it.
_INSERT_USERS = _USERS.insert().returning(_USERS.c.id, _USERS.c.email, _USERS.c.username)
_INSERT_MEMBERSHIPS = Membership.__table__.insert()
_INSERT_LINKS = LinkedIdentity.__table__.insert()
_INSERT_GROUP_MEMBERS = GroupMember.__table__.insert()


def apply(session: Session, org: Organization, plans: list[Plan], source: Source,
           connection: str | None, events: EventBatch) -> dict[int, int]:
    """Write every plan with bulk statements."""
    now = utcnow()
    new = [p for p in plans if p.new_user is not None]
    if new:
        _insert_users(session, new, now)
        for p in new:
            uid = p.new_user["id"]
            events.add(org.id, "user.created", "user", uid, email=p.new_user["email"],
                       username=p.new_user["username"],
                       **({"connection": connection, "external_id": p.ident.external_id}
                          if connection and p.ident.external_id else {}))
    updates = [p for p in plans if p.user_changes]
    if updates:
        session.execute(update(User), [
            {"id": p.user.id, **p.user_changes, "version": p.user.version + 1, "updated_at": now}
            for p in updates])
        for p in updates:
            events.add(org.id, "user.updated", "user", p.user.id,
                       fields=sorted(k for k in p.user_changes if k != "password_hash"))
    uid = {p.index: (p.user.id if p.user else p.new_user["id"]) for p in plans}
    joins = [p for p in plans if p.membership is None]
    if joins:
        session.execute(_INSERT_MEMBERSHIPS, [
            {"organization_id": p.target.id, "user_id": uid[p.index], "role": p.new_role,
             "status": p.member_changes["status"], "source": source.value,
             "created_at": now, "updated_at": now} for p in joins])
        for p in joins:
            events.add(p.target.id, "member.joined", "user", uid[p.index], role=p.new_role,
                       status=p.member_changes["status"])
    changed = [p for p in plans if p.membership is not None and p.member_changes]
    if changed:
        session.execute(update(Membership), [
            {"id": p.membership.id, **p.member_changes, "updated_at": now} for p in changed])
        for p in changed:
            m = p.membership
            if "role" in p.member_changes:
                events.add(p.target.id, "member.role_changed", "user", m.user_id,
                           old_role=m.role, role=p.member_changes["role"])
            status = p.member_changes.get("status")
            if status:
                events.add(p.target.id, "member.deactivated" if status == DEACTIVATED
                           else "member.reactivated", "user", m.user_id)
            if status == DEACTIVATED:
                revoke_owned(session, p.target.id, [m.user_id])
    _apply_links(session, org, plans, uid, connection, now, events, source)
    adds = [{"group_id": g.id, "user_id": uid[p.index], "created_at": now}
            for p in plans for g in p.groups_add]
    if adds:
        session.execute(_INSERT_GROUP_MEMBERS, adds)
        for a in adds:
            events.add(org.id, "group.member_added", "group", a["group_id"], user_id=a["user_id"])
    removes = [(gid, uid[p.index]) for p in plans for gid in p.groups_remove]
    for gid, u in removes:
        session.execute(delete(GroupMember).where(GroupMember.group_id == gid,
                                                  GroupMember.user_id == u))
        events.add(org.id, "group.member_removed", "group", gid, user_id=u)
    # Bulk statements bypass the identity map: the rows they changed reload on next access
    # (only those: expiring everything would reload the organization on every call).
    for p in plans:
        for obj in (p.user, p.membership, p.link):
            if obj is not None:
                session.expire(obj)
    return uid


def _insert_users(session: Session, new: list[Plan], now: Any) -> None:
    """Bulk-insert new users and learn their ids. RETURNING rows come back in any order
    (ordered RETURNING degrades to one statement per row on SQLite), so rows are matched back
    by their unique email or username; the rare row with neither is inserted on its own."""
    keyed = [p for p in new if p.new_user["email"] or p.new_user["username"]]
    if keyed:
        rows = [{**p.new_user, "created_at": now, "updated_at": now} for p in keyed]
        by_email: dict[str, int] = {}
        by_username: dict[str, int] = {}
        for uid, email, username in session.execute(_INSERT_USERS, rows):
            if email:
                by_email[email] = uid
            if username:
                by_username[username] = uid
        for p in keyed:
            p.new_user["id"] = by_email.get(p.new_user["email"]) or \
                by_username[p.new_user["username"]]
    for p in new:
        if "id" not in p.new_user:
            p.new_user["id"] = session.execute(insert(User).values(
                **p.new_user, created_at=now, updated_at=now).returning(User.id)).scalar_one()


def _apply_links(session: Session, org: Organization, plans: list[Plan], uid: dict[int, int],
                 connection: str | None, now: Any, events: EventBatch, source: Source) -> None:
    new_links = [p for p in plans if p.link_changes.get("new")]
    if new_links:
        session.execute(_INSERT_LINKS, [
            {"connection": connection, "external_id": p.ident.external_id,
             "user_id": uid[p.index], "organization_id": org.id,
             "username": p.ident.source_username, "data": dict(p.ident.link_data),
             "created_at": now, "last_seen_at": now} for p in new_links])
        for p in new_links:
            if p.new_user is None:  # a new account's link is told by its user.created event
                events.add(org.id, "identity.linked", "user", uid[p.index],
                           connection=connection, external_id=p.ident.external_id)
    # last_seen_at is news only for sign-ins; a bulk source re-sending an unchanged record
    # should not cost a write per row.
    old = [p for p in plans if p.link is not None
           and (p.link_changes or source in (Source.OIDC, Source.SAML))]
    if old:
        session.execute(update(LinkedIdentity), [
            {"id": p.link.id, "last_seen_at": now, **p.link_changes} for p in old])
