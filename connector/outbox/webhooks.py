"""Webhooks: endpoints an organization registers, signed JSON events, delivery with retries and a
delivery log. Signature: ``Connector-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``; the timestamp inside the MAC stops a captured request being replayed later."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..errors import InvalidInput, NotFound
from ..events import WEBHOOK_EVENTS, record
from ..identity import Actor, Source
from ..models import Organization, OutboxMessage, WebhookEndpoint
from .models import WebhookDelivery
from .queue import Claimed, claim, mark_failed, mark_retry, mark_sent

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "Connector-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``<timestamp>.<body>``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                    hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str, body: bytes, *, now: float | None = None,
                     tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: check the MAC in constant time and refuse stale timestamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now or time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), parts.get("v1", ""))


def _private_networks_allowed() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS"))


def blocked_target(url: str, resolve: bool = True) -> str | None:
    """Why ``url`` may not receive webhooks, or None. A tenant's admin must not make our
    servers call loopback, link-local (cloud metadata) or internal addresses (SSRF), unless
    the operator allows it (WEBHOOK_ALLOW_PRIVATE_NETWORKS, e.g. a receiver on this machine)."""
    if _private_networks_allowed():
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is not a public address"
    try:
        addrs = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return None
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError as err:
            return f"cannot resolve {host}: {err}"
        addrs = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    bad = next((a for a in addrs if not a.is_global), None)
    return f"{host} resolves to a non-public address ({bad})" if bad else None


# -- endpoints (one service function under console, API and CLI) -------------------------------

def add_endpoint(session: Session, org: Organization, url: str, *, actor: Actor,
                 events: list[str] | None = None) -> WebhookEndpoint:
    """Register an endpoint; its secret is readable once by the caller (and kept for signing)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise InvalidInput("The webhook URL must be an http(s) URL.", code="invalid_url")
    reason = blocked_target(url, resolve=False)
    if reason:
        raise InvalidInput(f"Webhooks go to public addresses only: {reason}.",
                           code="private_address")
    events = sorted(set(events or []))
    unknown = set(events) - WEBHOOK_EVENTS
    if unknown:
        raise InvalidInput(f"Unknown event type(s): {', '.join(sorted(unknown))}; known: "
                           f"{', '.join(sorted(WEBHOOK_EVENTS))}.", code="unknown_event")
    ep = WebhookEndpoint(organization_id=org.id, url=url, events=events, active=True,
                         secret="whsec_" + secrets.token_urlsafe(32))
    session.add(ep)
    session.flush()
    record(session, org.id, "webhook.created", source=Source.MANUAL, actor=actor.label,
           target_type="webhook", target_id=ep.id, url=url, events=events)
    return ep


def list_endpoints(session: Session, org: Organization) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == org.id).order_by(WebhookEndpoint.id)))


def require_endpoint(session: Session, org: Organization, endpoint_id: int) -> WebhookEndpoint:
    ep = session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                      WebhookEndpoint.organization_id == org.id))
    if ep is None:
        raise NotFound(f"No webhook {endpoint_id} in {org.account}.", code="webhook_not_found")
    return ep


def remove_endpoint(session: Session, org: Organization, endpoint_id: int, *,
                    actor: Actor) -> None:
    """Delete an endpoint; its queued deliveries fail with 'endpoint removed'."""
    ep = require_endpoint(session, org, endpoint_id)
    session.delete(ep)
    record(session, org.id, "webhook.removed", source=Source.MANUAL, actor=actor.label,
           target_type="webhook", target_id=endpoint_id, url=ep.url)


def list_deliveries(session: Session, org: Organization, endpoint_id: int,
                    limit: int = 100) -> list[tuple[WebhookDelivery, str | None]]:
    """The endpoint's delivery attempts, newest first, with their message's current status."""
    require_endpoint(session, org, endpoint_id)
    return [tuple(r) for r in session.execute(
        select(WebhookDelivery, OutboxMessage.status)
        .outerjoin(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_message_id)
        .where(WebhookDelivery.organization_id == org.id,
               WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc()).limit(min(limit, 1000)))]


def redeliver(session: Session, org: Organization, delivery_id: int, *,
              actor: Actor) -> OutboxMessage:
    """Queue the event of a logged delivery again (same event id, so receivers can dedupe)."""
    d = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                     WebhookDelivery.organization_id == org.id))
    src = session.get(OutboxMessage, d.outbox_message_id) if d and d.outbox_message_id else None
    if src is None or src.organization_id != org.id or src.kind != "webhook":
        raise NotFound(f"No webhook delivery {delivery_id} in {org.account}.",
                       code="delivery_not_found")
    msg = OutboxMessage(organization_id=org.id, kind="webhook", topic=src.topic,
                        payload=dict(src.payload))
    session.add(msg)
    session.flush()
    record(session, org.id, "webhook.redelivered", source=Source.MANUAL, actor=actor.label,
           target_type="webhook", target_id=d.endpoint_id, delivery=delivery_id,
           outbox_message=msg.id)
    return msg


# -- delivery ------------------------------------------------------------------------------------

def deliver_webhooks(limit: int | None = None) -> int:
    """Claim and deliver one batch of due webhook events; returns how many rows were handled."""
    cfg = current_app.config
    with db.transaction() as session:
        batch = claim(session, "webhook", limit or int(cfg.get("OUTBOX_BATCH_SIZE", 100)),
                      float(cfg.get("OUTBOX_LEASE_SECONDS", 300)))
        ids = {m.payload.get("endpoint_id") for m in batch}
        endpoints = {e.id: (e.url, e.secret, e.active) for e in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.id.in_(ids)))} if ids else {}
    timeout = float(cfg.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    with requests.Session() as http:  # keep-alive across a batch to the same receiver
        for msg in batch:
            ep = endpoints.get(msg.payload.get("endpoint_id"))
            if ep is None or not ep[2]:
                with db.transaction() as session:
                    mark_failed(session, msg, "endpoint removed or disabled")
                continue
            _deliver_one(http, msg, ep[0], ep[1], timeout)
    return len(batch)


def _deliver_one(http: requests.Session, msg: Claimed, url: str, secret: str,
                 timeout: float) -> None:
    event = msg.payload.get("event") or {}
    body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    ts = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "connector-webhooks/1",
               "Connector-Event": str(event.get("type", msg.topic)),
               "Connector-Delivery": str(event.get("id", "")),
               SIGNATURE_HEADER: f"t={ts},v1={sign(secret, ts, body)}"}
    started = time.monotonic()
    status, error = None, ""
    # Checked at each delivery: the name may resolve elsewhere than when it was registered.
    # (A resolver that answers differently between this check and the connection can still
    # slip through; a proxy that enforces the rule is the complete fix.)
    error = blocked_target(url) or ""
    try:
        if not error:
            # Redirects are not followed: a receiver that moved must be updated by an admin.
            resp = http.post(url, data=body, headers=headers, timeout=timeout,
                             allow_redirects=False)
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {resp.text[:200]}"
    except requests.RequestException as err:
        error = f"{type(err).__name__}: {err}"[:500]
    ms = int((time.monotonic() - started) * 1000)
    with db.transaction() as session:
        session.add(WebhookDelivery(
            organization_id=msg.organization_id, endpoint_id=msg.payload["endpoint_id"],
            outbox_message_id=msg.id, event_id=str(event.get("id", ""))[:64],
            event_type=msg.topic, attempt=msg.attempts, status_code=status, ok=not error,
            error=error, duration_ms=ms))
        if error:
            # Any non-2xx or network error is retried with backoff until OUTBOX_MAX_ATTEMPTS.
            mark_retry(session, msg, error)
        else:
            mark_sent(session, msg)
