"""Resource operations shared by the HTTP views and /Bulk: load, check the version, change,
serialize. Each takes the request's session and never commits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from . import errors, groups, users
from .context import Tenant, etag
from .discovery import limits
from .patch import apply as apply_patch
from .resource import project


@dataclass(frozen=True)
class Query:
    """List parameters (RFC 7644 §3.4.2), from a query string or a SearchRequest body."""

    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start: int = 1
    count: int | None = None
    attributes: list[str] | None = None
    excluded: list[str] | None = None


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.InvalidValue(f"'{name}' must be an integer.") from None


def make_query(filter: Any = None, sort_by: Any = None, sort_order: Any = None,
               start: Any = None, count: Any = None, attributes: list[str] | None = None,
               excluded: list[str] | None = None) -> Query:
    order = str(sort_order or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise errors.InvalidValue("sortOrder is 'ascending' or 'descending'.")
    # RFC 7644 §3.4.2.4: startIndex below 1 is 1; a negative count is 0.
    s = max(_int(start, "startIndex") or 1, 1)
    c = _int(count, "count")
    c = None if c is None else max(c, 0)
    return Query(filter if filter else None, sort_by or None, order == "descending", s, c,
                 attributes, excluded)


def check_version(current: int, if_match: str | None) -> None:
    """If-Match (RFC 7644 §3.14): a stale version is 412 Precondition Failed."""
    if if_match is None:
        return
    tags = {t.strip() for t in if_match.split(",")}
    if "*" in tags:
        return
    cur = etag(current)
    if cur not in tags and cur[2:] not in tags:
        raise errors.PreconditionFailed("The resource changed since that version (If-Match).")


def _require(session: Session, t: Tenant, kind: str, scim_id: str, lock: bool = False):
    return (users if kind == "User" else groups).require(session, t, scim_id, lock=lock)


def render(session: Session, t: Tenant, kind: str, obj: Any, attributes=None,
           excluded=None, new: bool = False) -> dict:
    """One resource, loading members/groups only when they will be returned."""
    drop = {a.lower() for a in excluded or ()}
    if kind == "User":
        want_groups = (not attributes or "groups" in {a.lower() for a in attributes}) \
            and "groups" not in drop
        g = None if not want_groups else [] if new else \
            users.groups_of(session, t, [obj]).get(obj.user_id, [])
        res = users.to_resource(t, obj, g)
    else:
        want = (not attributes or any(a.lower().startswith("members") for a in attributes)) \
            and "members" not in drop
        m = groups.members_of(session, t, [obj.id])[obj.id] if want else None
        res = groups.to_resource(session, t, obj, m)
    return project(res, attributes, excluded)


def version_of(obj: Any) -> int:
    return obj.version


def get(session: Session, t: Tenant, kind: str, scim_id: str) -> Any:
    return _require(session, t, kind, scim_id)


def create(session: Session, t: Tenant, kind: str, body: Any) -> Any:
    return (users if kind == "User" else groups).create(session, t, body)


def replace(session: Session, t: Tenant, kind: str, scim_id: str, body: Any,
            if_match: str | None) -> Any:
    obj = _require(session, t, kind, scim_id, lock=kind == "User")
    check_version(obj.version, if_match)
    (users if kind == "User" else groups).replace(session, t, obj, body)
    session.flush()
    return obj


def patch(session: Session, t: Tenant, kind: str, scim_id: str, body: Any,
          if_match: str | None) -> Any:
    # Users are read-modify-written under a row lock; group members are changed as rows.
    obj = _require(session, t, kind, scim_id, lock=kind == "User")
    check_version(obj.version, if_match)
    if kind == "User":
        data, _members, password = apply_patch("User", obj.data or {}, body)
        data = {**data, "active": data.get("active", obj.active)}
        data, pw2 = users.validate(data)
        users.save(session, t, obj, data, password or pw2)
    else:
        data, members, _ = apply_patch("Group", groups.data_of(session, obj), body)
        groups.patch(session, t, obj, data, members)
    session.flush()
    return obj


def delete(session: Session, t: Tenant, kind: str, scim_id: str, if_match: str | None) -> None:
    obj = _require(session, t, kind, scim_id, lock=kind == "User")
    check_version(obj.version, if_match)
    (users if kind == "User" else groups).remove(session, t, obj)
    session.flush()


def search(session: Session, t: Tenant, kind: str, q: Query) -> dict:
    """A ListResponse page (RFC 7644 §3.4.2)."""
    max_results = limits()["max_results"]
    count = max_results if q.count is None else min(q.count, max_results)
    module = users if kind == "User" else groups
    total, rows = module.search(session, t, q.filter, q.sort_by, q.descending, q.start, count)
    drop = {a.lower() for a in q.excluded or ()}
    wanted = {a.lower() for a in q.attributes or ()}
    if kind == "User":
        want = (not wanted or "groups" in wanted) and "groups" not in drop
        extra = users.groups_of(session, t, rows) if want else {}
        resources = [users.to_resource(t, r, extra.get(r.user_id, []) if want else None)
                     for r in rows]
    else:
        want = (not wanted or any(a.startswith("members") for a in wanted)) \
            and "members" not in drop
        extra = groups.members_of(session, t, [g.id for g in rows]) if want else {}
        resources = [groups.to_resource(session, t, g, extra.get(g.id) if want else None)
                     for g in rows]
    from .schemas import LIST_RESPONSE
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "itemsPerPage": len(resources),
            "startIndex": q.start,
            "Resources": [project(r, q.attributes, q.excluded) for r in resources]}


def search_all(session: Session, t: Tenant, q: Query) -> dict:
    """POST /.search at the root (RFC 7644 §3.4.3): Users then Groups as one paged list.

    A filter naming attributes only one resource type has matches nothing of the other."""
    from .schemas import LIST_RESPONSE
    max_results = limits()["max_results"]
    count = max_results if q.count is None else min(q.count, max_results)
    parts, failures = [], 0
    for kind in ("User", "Group"):
        try:
            total = search(session, t, kind, Query(q.filter, None, False, 1, 0))["totalResults"]
        except errors.InvalidFilter:
            failures += 1
            total = 0
        parts.append((kind, total))
    if failures == 2:
        raise errors.InvalidFilter("The filter names no attribute of Users or Groups.")
    resources: list[dict] = []
    start = q.start  # 1-based position in the concatenation
    for kind, total in parts:
        if len(resources) >= count:
            break
        if start > total:
            start -= total
            continue
        if total:
            page = search(session, t, kind, Query(q.filter, q.sort_by, q.descending, start,
                                                  count - len(resources), q.attributes,
                                                  q.excluded))
            resources.extend(page["Resources"])
        start = 1
    return {"schemas": [LIST_RESPONSE], "totalResults": sum(n for _, n in parts),
            "itemsPerPage": len(resources), "startIndex": q.start, "Resources": resources}
