"""SCIM Groups (RFC 7643 §4.2): core Group rows of the organization, members as rows changed
through ``connector.pipeline.groups`` with set-based statements."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector import pipeline
from connector.models import Group, GroupMember

from . import errors, filters
from .context import SOURCE, Tenant, iso
from .models import ScimGroup, ScimUser
from .patch import MemberOps
from .resource import canonicalize
from .schemas import CORE_GROUP


def _validate(body: Any) -> tuple[dict, list[str] | None]:
    data = canonicalize("Group", body)
    name = data.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise errors.InvalidValue("displayName is required.")
    members = data.pop("members", None)
    ids = [m.get("value") for m in members] if members is not None else None
    if ids is not None and not all(isinstance(i, str) and i for i in ids):
        raise errors.InvalidValue("Each member needs a 'value' (a User id).")
    return data, ids


def user_ids(session: Session, t: Tenant, scim_ids: list[str]) -> list[int]:
    """Core user ids of this organization's SCIM Users; an unknown id is invalidValue."""
    if not scim_ids:
        return []
    wanted = set(scim_ids)
    found = dict(session.execute(select(ScimUser.scim_id, ScimUser.user_id).where(
        ScimUser.organization_id == t.org.id, ScimUser.scim_id.in_(sorted(wanted)),
        ScimUser.deleted_at.is_(None))).all())
    missing = wanted - set(found)
    if missing:
        raise errors.InvalidValue(f"No User with id {sorted(missing)[0]} in this organization.")
    return [u for u in found.values() if u is not None]


def _store_external(session: Session, t: Tenant, group: Group, data: dict) -> None:
    sg = session.get(ScimGroup, group.id)
    if sg is None:
        sg = ScimGroup(group_id=group.id, organization_id=t.org.id, data={})
    sg.external_id = data.get("externalId") or None
    sg.data = {k: v for k, v in data.items() if k.startswith("urn:")}
    try:
        with session.begin_nested():
            session.add(sg)
            session.flush()
    except IntegrityError:
        raise errors.Uniqueness("A group with this externalId already exists.") from None


def create(session: Session, t: Tenant, body: Any) -> Group:
    data, ids = _validate(body)
    members = user_ids(session, t, ids or [])
    group = pipeline.groups.create_group(session, t.org, data["displayName"], source=SOURCE,
                                         actor=t.actor, external_id=uuid.uuid4().hex)
    _store_external(session, t, group, data)
    if members:
        pipeline.groups.add_members(session, t.org, group, members, source=SOURCE,
                                    actor=t.actor, connection=t.connection)
    return group


def replace(session: Session, t: Tenant, group: Group, body: Any) -> None:
    data, ids = _validate(body)
    pipeline.groups.rename_group(session, group, data["displayName"], source=SOURCE,
                                 actor=t.actor)
    _store_external(session, t, group, data)
    # RFC 7644 §3.5.1: PUT replaces; a body without members leaves the group with none.
    pipeline.groups.replace_members(session, t.org, group, user_ids(session, t, ids or []),
                                    source=SOURCE, actor=t.actor, connection=t.connection)
    pipeline.groups.touch_group(session, group)


def patch(session: Session, t: Tenant, group: Group, data: dict, members: MemberOps) -> None:
    """Store a patched Group: attributes, then each member operation as row changes."""
    if not isinstance(data.get("displayName"), str) or not data["displayName"].strip():
        raise errors.InvalidValue("displayName is required.")
    pipeline.groups.rename_group(session, group, data["displayName"], source=SOURCE,
                                 actor=t.actor)
    _store_external(session, t, group, data)
    kw = dict(source=SOURCE, actor=t.actor, connection=t.connection)
    for op, ids in members.ops:
        if op == "remove":
            # Removing an id that is not a member (or not a User at all) removes nothing else.
            found = session.execute(select(ScimUser.user_id).where(
                ScimUser.organization_id == t.org.id, ScimUser.scim_id.in_(ids))).scalars()
            pipeline.groups.remove_members(session, t.org, group, list(found), **kw)
        elif op == "add":
            pipeline.groups.add_members(session, t.org, group, user_ids(session, t, ids), **kw)
        else:
            pipeline.groups.replace_members(session, t.org, group, user_ids(session, t, ids), **kw)
    pipeline.groups.touch_group(session, group)


def data_of(session: Session, group: Group) -> dict:
    """The canonical Group without members (what PATCH operates on)."""
    sg = session.get(ScimGroup, group.id)
    out: dict[str, Any] = {"displayName": group.display_name}
    if sg is not None:
        if sg.external_id:
            out["externalId"] = sg.external_id
        out.update(sg.data or {})
    return out


def require(session: Session, t: Tenant, scim_id: str, *, lock: bool = False) -> Group:
    q = select(Group).join(ScimGroup, ScimGroup.group_id == Group.id).where(
        Group.organization_id == t.org.id, Group.external_id == scim_id)
    if lock:
        q = q.with_for_update(of=Group)
    g = session.scalar(q)
    if g is None:
        raise errors.NotFound(f"Group {scim_id} not found.")
    return g


def remove(session: Session, t: Tenant, group: Group) -> None:
    pipeline.groups.delete_group(session, t.org, group, source=SOURCE, actor=t.actor,
                                 connection=t.connection)


def members_of(session: Session, t: Tenant, group_ids: list[int]) -> dict[int, list[dict]]:
    """The members of each group, in one query (only asked when members are returned)."""
    out: dict[int, list[dict]] = {g: [] for g in group_ids}
    if not group_ids:
        return out
    for gid, sid, name in session.execute(
            select(GroupMember.group_id, ScimUser.scim_id, ScimUser.display_name)
            .join(ScimUser, (ScimUser.user_id == GroupMember.user_id)
                  & (ScimUser.organization_id == t.org.id))
            .where(GroupMember.group_id.in_(group_ids), ScimUser.deleted_at.is_(None))
            .order_by(GroupMember.group_id, ScimUser.id)):
        item = {"value": sid, "$ref": t.location("User", sid), "type": "User"}
        if name:
            item["display"] = name
        out[gid].append(item)
    return out


def to_resource(session: Session, t: Tenant, group: Group, members: list[dict] | None) -> dict:
    data = data_of(session, group)
    out: dict[str, Any] = {"schemas": [CORE_GROUP] + [k for k in data if k.startswith("urn:")],
                           "id": group.external_id, **data}
    if members is not None:
        out["members"] = members
    out["meta"] = {"resourceType": "Group", "created": iso(group.created_at),
                   "lastModified": iso(group.updated_at),
                   "location": t.location("Group", group.external_id),
                   "version": f'W/"{group.version}"'}
    return out


def search(session: Session, t: Tenant, filter_text: str | None, sort_by: str | None,
           descending: bool, start: int, count: int) -> tuple[int, list[Group]]:
    cond = (Group.organization_id == t.org.id) & filters.where("Group", filter_text)
    base = select(Group).join(ScimGroup, ScimGroup.group_id == Group.id).where(cond)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    if count == 0:
        return total, []
    key = filters.sort_column("Group", sort_by) if sort_by else Group.id
    order = [key.desc() if descending else key.asc(), Group.id]
    rows = session.scalars(base.order_by(*order).offset(start - 1).limit(count)).all()
    return total, list(rows)
