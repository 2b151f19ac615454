"""SCIM Users (RFC 7643 §4.1, RFC 7644 §3.3-3.6): the resource is a person linked to this
organization's SCIM connection; every write of the person goes through the pipeline."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector import pipeline
from connector.db import utcnow
from connector.events import record
from connector.identity import Identity
from connector.models import Group, GroupMember, Organization, User

from . import errors, filters
from .context import SOURCE, Tenant, iso
from .models import ScimUser, ScimUserValue
from .resource import canonicalize
from .schemas import CORE_USER, ENTERPRISE

MULTI = ("emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles",
         "x509Certificates")
_COLUMNS = {  # column -> path in the canonical resource
    "display_name": ("displayName",), "nick_name": ("nickName",), "title": ("title",),
    "user_type": ("userType",), "preferred_language": ("preferredLanguage",),
    "locale": ("locale",), "timezone": ("timezone",), "profile_url": ("profileUrl",),
    "formatted_name": ("name", "formatted"), "given_name": ("name", "givenName"),
    "family_name": ("name", "familyName"), "middle_name": ("name", "middleName"),
    "honorific_prefix": ("name", "honorificPrefix"), "honorific_suffix": ("name", "honorificSuffix"),
    "employee_number": (ENTERPRISE, "employeeNumber"), "cost_center": (ENTERPRISE, "costCenter"),
    "organization": (ENTERPRISE, "organization"), "division": (ENTERPRISE, "division"),
    "department": (ENTERPRISE, "department"), "manager_id": (ENTERPRISE, "manager", "value"),
}

_SCIM_ROWS, _VALUES = ScimUser.__table__, ScimUserValue.__table__
# Built once: building a statement costs more Python time than SQLite takes to run it.
_INSERT_USER = _SCIM_ROWS.insert().returning(_SCIM_ROWS.c.id)
_SET_PERSON = _SCIM_ROWS.update().where(_SCIM_ROWS.c.id == bindparam("row_id")) \
    .values(user_id=bindparam("person_id"))
_INSERT_VALUES = _VALUES.insert()
_DUPLICATE = "A user with this userName or externalId already exists in this organization."


def _get(data: dict, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(data, dict):
            return None
        data = data.get(p)
    return data


def validate(data: dict) -> tuple[dict, str | None]:
    """Check a canonical User; returns it without the password, and the password."""
    user_name = data.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise errors.InvalidValue("userName is required.")
    data = dict(data)
    data["userName"] = user_name.strip()
    password = data.pop("password", None)
    for attr in MULTI:
        items = data.get(attr)
        if items and sum(1 for i in items if i.get("primary")) > 1:
            raise errors.InvalidValue(f"At most one of {attr} may be primary (RFC 7643 §2.4).")
    return data, password


def _projection(data: dict) -> dict[str, Any]:
    """The columns a canonical User is projected to (what filters and sorting read)."""
    ext = data.get("externalId")
    out = {"user_name": data["userName"], "user_name_folded": data["userName"].lower(),
           "external_id": ext if ext else None, "data": data}
    for col, path in _COLUMNS.items():
        v = _get(data, path)
        out[col] = v if isinstance(v, str) and v != "" else None
    return out


def _project(row: ScimUser, data: dict) -> None:
    for col, value in _projection(data).items():
        setattr(row, col, value)


def _write_values(session: Session, row_id: int, org_id: int, data: dict, fresh: bool) -> None:
    if not fresh:
        session.execute(delete(ScimUserValue).where(ScimUserValue.scim_user_id == row_id))
    rows = []
    for attr in MULTI:
        for item in data.get(attr) or ():
            value = item.get("value")
            rows.append({
                "scim_user_id": row_id, "organization_id": org_id, "attr": attr,
                "type": item.get("type"), "primary": bool(item.get("primary")),
                "value": value, "value_folded": value.lower() if isinstance(value, str) else None,
                "display": item.get("display"), "formatted": item.get("formatted"),
                "street_address": item.get("streetAddress"), "locality": item.get("locality"),
                "region": item.get("region"), "postal_code": item.get("postalCode"),
                "country": item.get("country")})
    if rows:
        session.execute(_INSERT_VALUES, rows)


def _identity(row: ScimUser, data: dict, password: str | None, active: bool | None) -> Identity:
    emails = data.get("emails") or []
    chosen = next((e for e in emails if e.get("primary")), None) or \
        next((e for e in emails if e.get("type") == "work"), None) or (emails[0] if emails else None)
    email = chosen.get("value") if chosen else None
    if email is None and "@" in data["userName"]:
        email = data["userName"]  # Okta and Entra commonly send the address as userName only
    name = data.get("name") or {}
    return Identity(external_id=row.scim_id, email=email,
                    # The organization's own IdP vouches for the address; the pipeline still
                    # trusts it only on one of the organization's verified domains.
                    email_verified=True, source_username=data["userName"],
                    given_name=name.get("givenName") or "", family_name=name.get("familyName") or "",
                    display_name=data.get("displayName") or "", active=active, password=password)


def _provision(session: Session, t: Tenant, ident: Identity) -> int:
    # Not isolated: an error fails the request (in /Bulk, the operation's savepoint).
    [result] = pipeline.provision(session, t.org, [ident], source=SOURCE, actor=t.actor,
                                  connection=t.connection, isolated=False)
    if not result.ok:
        raise errors.from_reason(result.reason, result.message)
    return result.user_id


def lock_seats(session: Session, t: Tenant) -> None:
    """Take the organization's seat lock before our own rows reference it.

    The pipeline locks a seat-limited organization FOR UPDATE; our inserts take a FOR KEY SHARE
    lock on the same row (foreign key) first, so two such requests would each wait for the
    other's share lock (a deadlock PostgreSQL detected in the create benchmark)."""
    if t.org.seat_limit is not None:
        session.execute(select(Organization.id).where(Organization.id == t.org.id)
                        .with_for_update())


def _flush_unique(session: Session, row: ScimUser) -> None:
    """Flush the projection row; the unique constraints answer duplicates (and races)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise errors.Uniqueness(_DUPLICATE) from None


def create(session: Session, t: Tenant, body: Any) -> ScimUser:
    """POST /Users: the projection row first (its unique constraints answer duplicates, also
    under concurrent POSTs), then the person through the pipeline.

    Core statements, and no savepoint of our own: a duplicate fails the whole request (or, in
    /Bulk, the operation's savepoint). The returned row is not in the session: the response
    is rendered from what was written, without reading it back."""
    data, password = validate(canonicalize("User", body))
    active = data.get("active", True)
    lock_seats(session, t)
    now = utcnow()
    values = {"organization_id": t.org.id, "scim_id": uuid.uuid4().hex, "active": active,
              "version": 1, "created_at": now, "updated_at": now, **_projection(data)}
    try:
        row_id = session.execute(_INSERT_USER, values).scalar_one()
    except IntegrityError:
        raise errors.Uniqueness(_DUPLICATE) from None
    row = ScimUser(id=row_id, **values)
    row.user_id = _provision(session, t, _identity(row, data, password, active))
    session.execute(_SET_PERSON, {"row_id": row_id, "person_id": row.user_id})
    _write_values(session, row_id, t.org.id, data, fresh=True)
    return row


def save(session: Session, t: Tenant, row: ScimUser, data: dict, password: str | None) -> None:
    """Store a replaced or patched User and push the person's changes through the pipeline."""
    active = data.get("active", row.active)
    data = {**data, "active": active} if "active" in data else data
    lock_seats(session, t)
    _project(row, data)
    row.active = active
    row.version += 1
    row.updated_at = utcnow()
    _flush_unique(session, row)
    _write_values(session, row.id, t.org.id, data, fresh=False)
    _provision(session, t, _identity(row, data, password, active))


def replace(session: Session, t: Tenant, row: ScimUser, body: Any) -> None:
    data, password = validate(canonicalize("User", body))
    save(session, t, row, data, password)


def require(session: Session, t: Tenant, scim_id: str, *, lock: bool = False) -> ScimUser:
    """A live User of this organization; another organization's id is simply not found."""
    q = select(ScimUser).where(ScimUser.scim_id == scim_id, ScimUser.organization_id == t.org.id,
                               ScimUser.deleted_at.is_(None))
    if lock:
        q = q.with_for_update()
    row = session.scalar(q)
    if row is None:
        raise errors.NotFound(f"User {scim_id} not found.")
    return row


def remove(session: Session, t: Tenant, row: ScimUser) -> None:
    """DELETE: the organization's ``delete_policy`` decides (RFC 7644 §3.6); audited either way."""
    policy = (t.org.settings or {}).get("delete_policy") or "deactivate"
    uid = row.user_id
    for g in session.scalars(select(Group).join(GroupMember, GroupMember.group_id == Group.id)
                             .where(Group.organization_id == t.org.id, GroupMember.user_id == uid)):
        pipeline.groups.remove_members(session, t.org, g, [uid], source=SOURCE, actor=t.actor,
                                       connection=t.connection)
    user = session.get(User, uid) if uid else None
    if policy == "delete" and user is not None:
        if user.home_organization_id == t.org.id and user.managed_by_organization_id == t.org.id:
            pipeline.delete_user(session, user, actor=t.actor, source=SOURCE)
        else:  # someone else's account: only the membership goes
            pipeline.remove_member(session, t.org, uid, actor=t.actor, source=SOURCE)
        session.delete(row)
    else:
        if user is not None:
            _provision(session, t, Identity(external_id=row.scim_id, active=False))
        # Tombstone: gone from SCIM (404, not listed), the userName free for reuse.
        row.deleted_at = utcnow()
        row.user_name_folded = None
        row.external_id = None
        session.execute(delete(ScimUserValue).where(ScimUserValue.scim_user_id == row.id))
    record(session, t.org.id, "scim.user_deleted", source=SOURCE.value, actor=t.actor.label,
           target_type="user", target_id=uid or "", scim_id=row.scim_id, policy=policy)


def groups_of(session: Session, t: Tenant, rows: list[ScimUser]) -> dict[int, list[dict]]:
    """The read-only ``groups`` attribute of each row, in one query."""
    out: dict[int, list[dict]] = {r.user_id: [] for r in rows if r.user_id}
    if not out:
        return out
    for uid, gid, name in session.execute(
            select(GroupMember.user_id, Group.external_id, Group.display_name)
            .join(Group, Group.id == GroupMember.group_id)
            .where(Group.organization_id == t.org.id, Group.source == SOURCE.value,
                   GroupMember.user_id.in_(list(out)))):
        out[uid].append({"value": gid, "$ref": t.location("Group", gid), "display": name,
                         "type": "direct"})
    return out


def to_resource(t: Tenant, row: ScimUser, groups: list[dict] | None) -> dict:
    data = dict(row.data or {})
    schemas = [CORE_USER] + [k for k in data if k.startswith("urn:")]
    out: dict[str, Any] = {"schemas": schemas, "id": row.scim_id}
    out.update(data)
    out["active"] = bool(row.active)
    if groups is not None:
        out["groups"] = groups
    out["meta"] = {"resourceType": "User", "created": iso(row.created_at),
                   "lastModified": iso(row.updated_at), "location": t.location("User", row.scim_id),
                   "version": f'W/"{row.version}"'}
    return out


def search(session: Session, t: Tenant, filter_text: str | None, sort_by: str | None,
           descending: bool, start: int, count: int) -> tuple[int, list[ScimUser]]:
    """One page of Users and the total, all in SQL; order is stable (ties broken by id)."""
    cond = (ScimUser.organization_id == t.org.id) & ScimUser.deleted_at.is_(None) & \
        filters.where("User", filter_text)
    total = session.scalar(select(func.count()).select_from(ScimUser).where(cond)) or 0
    if count == 0:
        return total, []
    key = filters.sort_column("User", sort_by) if sort_by else ScimUser.id
    order = [key.desc() if descending else key.asc()]
    if sort_by:
        order.append(ScimUser.id.desc() if descending else ScimUser.id.asc())
    rows = session.scalars(select(ScimUser).where(cond).order_by(*order)
                           .offset(start - 1).limit(count)).all()
    return total, list(rows)
