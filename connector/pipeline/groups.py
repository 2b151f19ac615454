"""Group writes: groups and their members as rows, changed with set-based statements.

Two concurrent requests adding different members both land: members are INSERTed as missing
pairs (``ON CONFLICT DO NOTHING``) and DELETEd as pairs, never read-modified-written as a list.
A group an admin mapped to a role or a sub-organization grants it to its members through
``provision``, so every membership rule (seats, escalation, owners) still holds."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidInput, NotFound
from ..events import EventBatch, record
from ..identity import Actor, Identity, Result, Source
from ..models import Group, GroupMember, Organization
from ..roles import RANKS
from .context import chunks


def create_group(session: Session, org: Organization, display_name: str, *, source: Source,
                 actor: Actor, external_id: str | None = None) -> Group:
    """Create an empty group of ``org``."""
    name = (display_name or "").strip()
    if not name:
        raise InvalidInput("A group needs a display name.", code="invalid_group_name")
    g = Group(organization_id=org.id, display_name=name, external_id=external_id,
              source=Source(source).value, data={}, version=1)
    session.add(g)
    session.flush()
    record(session, org.id, "group.created", source=Source(source).value, actor=actor.label,
           target_type="group", target_id=g.id, display_name=name)
    return g


def rename_group(session: Session, group: Group, display_name: str, *, source: Source,
                 actor: Actor) -> None:
    name = (display_name or "").strip()
    if not name:
        raise InvalidInput("A group needs a display name.", code="invalid_group_name")
    if name != group.display_name:
        old = group.display_name
        group.display_name = name
        touch_group(session, group)
        record(session, group.organization_id, "group.updated", source=Source(source).value,
               actor=actor.label, target_type="group", target_id=group.id, old_name=old,
               display_name=name)


def touch_group(session: Session, group: Group) -> None:
    """Bump the group's version (its ETag) atomically."""
    session.execute(update(Group).where(Group.id == group.id)
                    .values(version=Group.version + 1, updated_at=utcnow()))
    session.expire(group, ["version", "updated_at"])


def delete_group(session: Session, org: Organization, group: Group, *, source: Source,
                 actor: Actor, connection: str | None = None) -> None:
    """Delete a group; its members lose what the group's mapping granted."""
    members = list(session.scalars(select(GroupMember.user_id).where(
        GroupMember.group_id == group.id)))
    remove_members(session, org, group, members, source=source, actor=actor,
                   connection=connection, touch=False)
    session.execute(delete(Group).where(Group.id == group.id))
    record(session, org.id, "group.deleted", source=Source(source).value, actor=actor.label,
           target_type="group", target_id=group.id, display_name=group.display_name)


def _insert_ignore(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def add_members(session: Session, org: Organization, group: Group, user_ids: Iterable[int], *,
                source: Source, actor: Actor, connection: str | None = None) -> list[int]:
    """Add members; returns the user ids that were not members before."""
    insert = _insert_ignore(session)
    now = utcnow()
    added: list[int] = []
    for chunk in chunks(sorted(set(user_ids))):
        stmt = insert(GroupMember).values(
            [{"group_id": group.id, "user_id": u, "created_at": now} for u in chunk]
        ).on_conflict_do_nothing().returning(GroupMember.user_id)
        added.extend(session.scalars(stmt))
    if added:
        events = EventBatch(session, source=Source(source).value, actor=actor.label)
        for u in added:
            events.add(org.id, "group.member_added", "group", group.id, user_id=u)
        events.flush()
        touch_group(session, group)
        if group.role or group.sub_organization_id:
            apply_mapping(session, org, added, source=source, actor=actor, connection=connection)
    return added


def remove_members(session: Session, org: Organization, group: Group, user_ids: Iterable[int], *,
                   source: Source, actor: Actor, connection: str | None = None,
                   touch: bool = True) -> list[int]:
    """Remove members; a user who is not a member is skipped. Returns those removed."""
    removed: list[int] = []
    for chunk in chunks(sorted(set(user_ids))):
        removed.extend(session.scalars(delete(GroupMember).where(
            GroupMember.group_id == group.id, GroupMember.user_id.in_(chunk))
            .returning(GroupMember.user_id)))
    if removed:
        events = EventBatch(session, source=Source(source).value, actor=actor.label)
        for u in removed:
            events.add(org.id, "group.member_removed", "group", group.id, user_id=u)
        events.flush()
        if touch:
            touch_group(session, group)
        if group.role or group.sub_organization_id:
            _unapply_mapping(session, org, group, removed, source=source, actor=actor,
                             connection=connection)
    return removed


def replace_members(session: Session, org: Organization, group: Group, user_ids: Iterable[int],
                    *, source: Source, actor: Actor,
                    connection: str | None = None) -> tuple[list[int], list[int]]:
    """Make the members exactly ``user_ids``; returns (added, removed)."""
    wanted = set(user_ids)
    current = set(session.scalars(select(GroupMember.user_id).where(
        GroupMember.group_id == group.id)))
    removed = remove_members(session, org, group, current - wanted, source=source, actor=actor,
                             connection=connection)
    added = add_members(session, org, group, wanted - current, source=source, actor=actor,
                        connection=connection)
    return added, removed


def map_group(session: Session, org: Organization, group: Group, *, role: str | None,
              sub_organization: Organization | None, actor: Actor,
              source: Source = Source.MANUAL) -> list[Result]:
    """Map a group to a role and/or a sub-organization and grant it to its current members."""
    if role is not None and role not in RANKS:
        raise InvalidInput(f"Unknown role {role!r}.", code="unknown_role")
    if role == "owner":
        raise InvalidInput("A group cannot grant ownership.", code="role_escalation")
    if sub_organization is not None and (sub_organization.id == org.id or
                                         not sub_organization.path.startswith(org.path)):
        raise NotFound(f"{sub_organization.account!r} is not a sub-organization of "
                       f"{org.account!r}.", code="unknown_sub_organization")
    group.role = role
    group.sub_organization_id = sub_organization.id if sub_organization else None
    touch_group(session, group)
    record(session, org.id, "group.mapped", source=Source(source).value, actor=actor.label,
           target_type="group", target_id=group.id, role=role,
           sub_organization=sub_organization.account if sub_organization else None)
    session.flush()
    members = list(session.scalars(select(GroupMember.user_id).where(
        GroupMember.group_id == group.id)))
    return apply_mapping(session, org, members, source=source, actor=actor)


def _mapped_groups(session: Session, org: Organization, user_ids: list[int]) -> dict[int, list[Group]]:
    out: dict[int, list[Group]] = {u: [] for u in user_ids}
    for chunk in chunks(user_ids):
        for uid, g in session.execute(
                select(GroupMember.user_id, Group).join(Group, Group.id == GroupMember.group_id)
                .where(Group.organization_id == org.id, GroupMember.user_id.in_(chunk),
                       (Group.role.is_not(None)) | (Group.sub_organization_id.is_not(None)))):
            out[uid].append(g)
    return out


def apply_mapping(session: Session, org: Organization, user_ids: list[int], *, source: Source,
                  actor: Actor, connection: str | None = None) -> list[Result]:
    """Grant each user what all their mapped groups of ``org`` grant (highest role wins)."""
    if not user_ids:
        return []
    from .provision import provision
    mapped = _mapped_groups(session, org, list(user_ids))
    identities = [Identity(user_id=u, groups=tuple(g.external_id or g.display_name for g in gs))
                  for u, gs in mapped.items() if gs]
    if not identities:
        return []
    return provision(session, org, identities, source=source, actor=actor,
                     connection=connection, groups_mode="add")


def _unapply_mapping(session: Session, org: Organization, group: Group, user_ids: list[int], *,
                     source: Source, actor: Actor, connection: str | None) -> None:
    from .members import deprovision
    from .provision import provision
    mapped = _mapped_groups(session, org, user_ids)
    if group.sub_organization_id:
        gone = [u for u in user_ids if not any(
            g.sub_organization_id == group.sub_organization_id for g in mapped[u])]
        sub = session.get(Organization, group.sub_organization_id)
        if gone and sub is not None and sub.deleted_at is None:
            deprovision(session, sub, gone, actor=actor, source=source)
    elif group.role:
        fallback = []
        for u in user_ids:
            roles = [g.role for g in mapped[u] if g.role in RANKS and not g.sub_organization_id]
            role = max(roles, key=RANKS.__getitem__) if roles else (org.default_role or "member")
            fallback.append(Identity(user_id=u, role=role))
        provision(session, org, fallback, source=source, actor=actor, connection=connection)
