"""Audit events and outbox rows, written in the caller's transaction."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .db import utcnow
from .models import AuditEvent, OutboxMessage, WebhookEndpoint

# Event types delivered to webhooks (issue 5); other audit actions stay in the audit log only.
WEBHOOK_EVENTS = frozenset({
    "user.created", "user.updated", "member.joined", "member.role_changed",
    "member.deactivated", "member.reactivated", "member.removed", "group.created",
    "group.member_added", "group.member_removed", "group.deleted",
})
# Built once: on the hot paths (a SCIM create) building a statement costs more than running it.
_AUDIT_INSERT = AuditEvent.__table__.insert()
_OUTBOX_INSERT = OutboxMessage.__table__.insert()
_EP = WebhookEndpoint.__table__
_ENDPOINTS = select(_EP.c.id, _EP.c.organization_id, _EP.c.events).where(
    _EP.c.organization_id.in_(bindparam("orgs", expanding=True)), _EP.c.active.is_(True))


class EventBatch:
    """Collects events during one pipeline call and writes them with two bulk inserts."""

    def __init__(self, session: Session, *, source: str, actor: str) -> None:
        self.session = session
        self.source = source
        self.actor = actor
        self.rows: list[dict[str, Any]] = []
        self.now = utcnow()  # one timestamp per batch: one transaction, one moment

    def add(self, org_id: int | None, action: str, target_type: str = "",
            target_id: Any = "", **data: Any) -> None:
        self.rows.append({
            "organization_id": org_id, "actor": self.actor, "action": action,
            "source": self.source, "target_type": target_type, "target_id": str(target_id),
            "data": data, "created_at": self.now,
        })

    def flush(self) -> None:
        if not self.rows:
            return
        self.session.execute(_AUDIT_INSERT, self.rows)
        enqueue_webhooks(self.session, self.rows)
        self.rows = []


def record(session: Session, org_id: int | None, action: str, *, source: str, actor: str,
           target_type: str = "", target_id: Any = "", **data: Any) -> None:
    """Record one audit event (and its webhook deliveries)."""
    batch = EventBatch(session, source=source, actor=actor)
    batch.add(org_id, action, target_type, target_id, **data)
    batch.flush()


def enqueue_webhooks(session: Session, rows: list[dict[str, Any]]) -> None:
    """Outbox rows for audit rows (those of EventBatch, or rows a set-based writer inserted
    itself: pipeline/bulk.py), one per active endpoint that wants the event."""
    org_ids = {r["organization_id"] for r in rows if r["action"] in WEBHOOK_EVENTS}
    org_ids.discard(None)
    if not org_ids:
        return
    # A Core query does not autoflush; the ORM query this replaced did, and callers rely on it:
    # the API's member PATCH records the change, then expires the session before answering.
    session.flush()
    endpoints = session.execute(_ENDPOINTS, {"orgs": sorted(org_ids)}).all()
    if not endpoints:
        return
    out = []
    for row in rows:
        for ep in endpoints:
            if ep.organization_id != row["organization_id"] or row["action"] not in WEBHOOK_EVENTS:
                continue
            if ep.events and row["action"] not in ep.events:
                continue
            out.append({
                "organization_id": ep.organization_id, "kind": "webhook", "topic": row["action"],
                "status": "pending", "attempts": 0, "next_attempt_at": row["created_at"],
                "created_at": row["created_at"], "last_error": "",
                "payload": {"endpoint_id": ep.id, "event": {
                    "id": str(uuid.uuid4()), "type": row["action"],
                    "created_at": row["created_at"].isoformat(), "source": row["source"],
                    "actor": row["actor"], "target": {"type": row["target_type"],
                                                      "id": row["target_id"]},
                    "data": row["data"]}},
            })
    if out:
        session.execute(_OUTBOX_INSERT, out)


def enqueue_email(session: Session, org_id: int | None, topic: str, *, to: str,
                  template: str, context: dict[str, Any], reply_to: str | None = None) -> None:
    """Queue an email; the worker renders and sends it after commit."""
    session.add(OutboxMessage(organization_id=org_id, kind="email", topic=topic, payload={
        "to": to, "template": template, "context": context, "reply_to": reply_to,
        "message_id": f"<{uuid.uuid4().hex}@connector>"}))


def has_webhooks(session: Session, org_id: int) -> bool:
    """Whether the organization has an active webhook endpoint (set-based writers skip
    building outbox rows when none would be made)."""
    return session.scalar(select(WebhookEndpoint.id).where(
        WebhookEndpoint.organization_id == org_id, WebhookEndpoint.active.is_(True))
        .limit(1)) is not None
