"""Membership changes an admin makes one person at a time: role, removal, deprovisioning,
ownership. Joining and profile changes go through ``provision``."""
from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound
from ..events import EventBatch, record
from ..identity import Actor, Source
from ..models import (Credential, Group, GroupMember, Membership, MembershipStatus, Organization,
                      User)
from ..roles import ADMIN_ROLES, RANKS, require_role_name

ACTIVE, DEACTIVATED = MembershipStatus.ACTIVE.value, MembershipStatus.DEACTIVATED.value
REMOVED = MembershipStatus.REMOVED.value


def require_membership(session: Session, org: Organization, user_id: int) -> Membership:
    m = session.scalar(select(Membership).where(Membership.organization_id == org.id,
                                                Membership.user_id == user_id))
    if m is None:
        raise NotFound(f"User {user_id} is not a member of {org.account}.", code="not_a_member")
    return m


def _owner_count(session: Session, org: Organization) -> int:
    # Lock the organization so two concurrent demotions cannot both see "one other owner".
    session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    return session.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id == org.id, Membership.role == "owner",
        Membership.status == ACTIVE)) or 0


def _check_outranks(actor: Actor, m: Membership) -> None:
    if RANKS[m.role] > actor.rank:
        raise Forbidden(f"You cannot change a member whose role ({m.role}) is above yours.",
                        code="role_escalation")


def set_role(session: Session, org: Organization, user_id: int, role: str, *, actor: Actor,
             source: Source = Source.MANUAL) -> Membership:
    """Change a member's role: no escalation, the last owner stays, one-admin rule holds."""
    require_role_name(role)
    m = require_membership(session, org, user_id)
    if RANKS[role] > actor.rank:
        raise Forbidden(f"You cannot grant the {role} role.", code="role_escalation")
    _check_outranks(actor, m)
    if m.role == role:
        return m
    if m.role == "owner" and _owner_count(session, org) <= 1:
        raise Conflict("The last owner cannot be demoted; transfer ownership first.",
                       code="last_owner")
    _check_one_admin(session, org, user_id, role)
    old = m.role
    m.role = role
    m.updated_at = utcnow()
    record(session, org.id, "member.role_changed", source=source, actor=actor.label,
           target_type="user", target_id=user_id, old_role=old, role=role)
    return m


def _check_one_admin(session: Session, org: Organization, user_id: int, role: str) -> None:
    if not (has_app_context() and current_app.config.get("ONE_ADMIN_ORG_PER_USER")):
        return
    if role not in ADMIN_ROLES:
        return
    other = session.scalar(select(Membership.organization_id).where(
        Membership.user_id == user_id, Membership.organization_id != org.id,
        Membership.role.in_(ADMIN_ROLES), Membership.status == ACTIVE).limit(1))
    if other is not None:
        raise Conflict("This person already administers another organization "
                       "(ONE_ADMIN_ORG_PER_USER).", code="admin_limit")


def remove_member(session: Session, org: Organization, user_id: int, *, actor: Actor,
                  source: Source = Source.MANUAL) -> None:
    """Remove a membership with the person's groups and owned credentials in the organization."""
    m = require_membership(session, org, user_id)
    _check_outranks(actor, m)
    if m.role == "owner" and m.status == ACTIVE and _owner_count(session, org) <= 1:
        raise Conflict("The last owner cannot be removed; transfer ownership first.",
                       code="last_owner")
    events = EventBatch(session, source=source, actor=actor.label)
    _remove(session, org, [m], events)
    events.flush()


def _remove_groups(session: Session, org: Organization, ids: list[int],
                   events: EventBatch) -> None:
    group_ids = select(Group.id).where(Group.organization_id == org.id)
    removed = session.execute(select(GroupMember.group_id, GroupMember.user_id).where(
        GroupMember.user_id.in_(ids), GroupMember.group_id.in_(group_ids))).all()
    session.execute(delete(GroupMember).where(GroupMember.user_id.in_(ids),
                                              GroupMember.group_id.in_(group_ids)))
    for gid, uid in removed:
        events.add(org.id, "group.member_removed", "group", gid, user_id=uid)


def _remove(session: Session, org: Organization, members: list[Membership],
            events: EventBatch) -> None:
    ids = [m.user_id for m in members]
    _remove_groups(session, org, ids, events)
    session.execute(delete(Membership).where(Membership.id.in_([m.id for m in members])))
    revoke_owned(session, org.id, ids)
    for m in members:
        events.add(org.id, "member.removed", "user", m.user_id, role=m.role)


def revoke_owned(session: Session, org_id: int, user_ids: list[int]) -> None:
    """A member who leaves or is deactivated loses the credentials they own there."""
    session.execute(update(Credential).where(
        Credential.user_id.in_(user_ids), Credential.organization_id == org_id,
        Credential.revoked_at.is_(None)).values(revoked_at=utcnow()))


def deprovision(session: Session, org: Organization, user_ids: list[int], *, actor: Actor,
                source: Source, mode: str | None = None) -> int:
    """Deactivate or remove members per the organization's policy; returns how many changed.

    A deactivated member loses every way in: the console checks the membership on each
    request, credentials they own are revoked, and sign-in and invites refuse to rejoin them."""
    mode = mode or org.deprovision_policy
    members = session.scalars(select(Membership).where(
        Membership.organization_id == org.id, Membership.user_id.in_(user_ids))).all()
    owners = [m for m in members if m.role == "owner" and m.status == ACTIVE]
    if owners and _owner_count(session, org) <= len(owners):
        raise Conflict("Deprovisioning would leave the organization without an owner.",
                       code="last_owner")
    events = EventBatch(session, source=source, actor=actor.label)
    if mode == "remove":
        targets = [m for m in members if m.status != REMOVED]
        if targets:
            _remove_groups(session, org, [m.user_id for m in targets], events)
            session.execute(update(Membership).where(Membership.id.in_([m.id for m in targets]))
                            .values(status=REMOVED, updated_at=utcnow()))
            revoke_owned(session, org.id, [m.user_id for m in targets])
        for m in targets:
            events.add(org.id, "member.removed", "user", m.user_id, role=m.role,
                       deprovisioned=True)
        changed = len(targets)
    else:
        targets = [m for m in members if m.status == ACTIVE]
        if targets:
            session.execute(update(Membership).where(Membership.id.in_([m.id for m in targets]))
                            .values(status=DEACTIVATED, updated_at=utcnow()))
            revoke_owned(session, org.id, [m.user_id for m in targets])
        for m in targets:
            events.add(org.id, "member.deactivated", "user", m.user_id)
        changed = len(targets)
    events.flush()
    session.expire_all()
    return changed


def transfer_ownership(session: Session, org: Organization, to_user_id: int, *,
                       actor: Actor) -> None:
    """The owner hands ownership to another active member and becomes an admin."""
    if actor.user_id is None and actor.label != "cli":
        raise Forbidden("Only the owner can transfer ownership.", code="owner_only")
    target = require_membership(session, org, to_user_id)
    if target.status != ACTIVE:
        raise Conflict("Ownership can only go to an active member.", code="member_deactivated")
    if actor.user_id is not None:
        current = require_membership(session, org, actor.user_id)
        if current.role != "owner" or current.status != ACTIVE:
            raise Forbidden("Only the owner can transfer ownership.", code="owner_only")
        if current.user_id == to_user_id:
            return
        current.role = "admin"
    else:
        for m in session.scalars(select(Membership).where(
                Membership.organization_id == org.id, Membership.role == "owner",
                Membership.user_id != to_user_id)):
            m.role = "admin"
    old = target.role
    target.role = "owner"
    record(session, org.id, "org.ownership_transferred", source=Source.MANUAL, actor=actor.label,
           target_type="user", target_id=to_user_id, old_role=old)


def deactivate_user(session: Session, user: User, *, actor: Actor, source: Source) -> None:
    """Deactivate a whole account (every organization): all sessions end."""
    user.active = False
    user.security_stamp += 1
    user.version += 1
    record(session, user.home_organization_id, "user.deactivated", source=source,
           actor=actor.label, target_type="user", target_id=user.id)


def delete_user(session: Session, user: User, *, actor: Actor, source: Source) -> None:
    """Tombstone an account: memberships, groups and links go; the username stays reserved."""
    ids = [user.id]
    memberships = session.scalars(select(Membership).where(Membership.user_id == user.id)).all()
    for m in memberships:
        org = session.get(Organization, m.organization_id)
        events = EventBatch(session, source=source, actor=actor.label)
        _remove(session, org, [m], events)
        events.flush()
    from ..models import LinkedIdentity
    session.execute(delete(GroupMember).where(GroupMember.user_id.in_(ids)))
    session.execute(delete(LinkedIdentity).where(LinkedIdentity.user_id.in_(ids)))
    user.email = None
    user.password_hash = None
    user.active = False
    user.deleted_at = utcnow()
    user.security_stamp += 1
    record(session, user.home_organization_id, "user.deleted", source=source, actor=actor.label,
           target_type="user", target_id=user.id)
