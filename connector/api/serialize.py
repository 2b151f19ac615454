"""JSON shapes of the admin API."""
from __future__ import annotations

from typing import Any

from ..identity import Result
from ..models import AuditEvent, Credential, Membership, Organization


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def org(o: Organization) -> dict[str, Any]:
    return {"account": o.account, "name": o.name, "description": o.description,
            "parent": o.parent.account if o.parent else None, "depth": o.depth,
            "seat_limit": o.seat_limit, "default_role": o.default_role,
            "deprovision_policy": o.deprovision_policy, "settings": o.settings or {},
            "created_at": iso(o.created_at), "updated_at": iso(o.updated_at)}


def member(m: Membership) -> dict[str, Any]:
    u = m.user
    return {"user_id": u.id, "email": u.email, "username": u.username,
            "display_name": u.display_name, "role": m.role, "status": m.status,
            "source": m.source, "managed_by": u.managed_by_source,
            "joined_at": iso(m.created_at)}


def credential(c: Credential) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "hint": c.hint, "permissions": c.permissions,
            "created_by": c.created_by, "created_at": iso(c.created_at),
            "expires_at": iso(c.expires_at), "revoked_at": iso(c.revoked_at),
            "last_used_at": iso(c.last_used_at)}


def result(r: Result) -> dict[str, Any]:
    return {"outcome": r.outcome.value, "user_id": r.user_id,
            "reason": r.reason.value if r.reason else None, "message": r.message,
            "changes": list(r.changes)}


def event(e: AuditEvent) -> dict[str, Any]:
    return {"id": e.id, "action": e.action, "source": e.source, "actor": e.actor,
            "target": {"type": e.target_type, "id": e.target_id}, "data": e.data,
            "created_at": iso(e.created_at)}
