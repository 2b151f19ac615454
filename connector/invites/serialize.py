"""JSON shapes of invite codes, invitations, webhook endpoints and deliveries (API and CLI)."""
from __future__ import annotations

from typing import Any

from ..api.serialize import iso
from ..models import Credential, WebhookEndpoint
from ..outbox.models import WebhookDelivery
from .codes import status as code_status
from .invitations import effective_status
from .models import Invitation


def code(c: Credential, secret: str | None = None) -> dict[str, Any]:
    d = c.data or {}
    out = {"id": c.id, "label": c.name, "hint": c.hint + "-…", "status": code_status(c),
           "role": d.get("role"), "sub_organization": d.get("sub_organization"),
           "groups": d.get("groups") or [], "allowed_domain": d.get("allowed_domain"),
           "uses": c.uses, "max_uses": c.max_uses, "expires_at": iso(c.expires_at),
           "created_by": c.created_by, "created_at": iso(c.created_at),
           "last_used_at": iso(c.last_used_at), "revoked_at": iso(c.revoked_at)}
    if secret:
        out["code"] = secret  # shown once
    return out


def invitation(i: Invitation) -> dict[str, Any]:
    return {"id": i.id, "email": i.email, "status": effective_status(i), "role": i.role,
            "sub_organization": i.sub_organization, "groups": i.groups or [],
            "invited_by": i.invited_by, "sent_count": i.sent_count, "last_error": i.last_error,
            "created_at": iso(i.created_at), "last_sent_at": iso(i.last_sent_at),
            "expires_at": iso(i.expires_at), "accepted_at": iso(i.accepted_at),
            "accepted_user_id": i.accepted_user_id, "revoked_at": iso(i.revoked_at)}


def endpoint(e: WebhookEndpoint, with_secret: bool = False) -> dict[str, Any]:
    out = {"id": e.id, "url": e.url, "events": e.events or [], "active": e.active,
           "created_at": iso(e.created_at)}
    if with_secret:
        out["secret"] = e.secret
    return out


def delivery(d: WebhookDelivery, message_status: str | None) -> dict[str, Any]:
    return {"id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id,
            "event_type": d.event_type, "attempt": d.attempt, "status_code": d.status_code,
            "ok": d.ok, "error": d.error, "duration_ms": d.duration_ms,
            "message_status": message_status, "created_at": iso(d.created_at)}
