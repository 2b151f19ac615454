"""The SCIM request log: every request a token made, with its status, kept per organization
(newest KEEP rows) so admins see what their IdP sends and what failed.

A request that succeeds writes its row in its own transaction (``write``); one that failed or
rolled back is logged by ``finish`` in a short transaction of its own."""
from __future__ import annotations

import json
import time

from flask import Response, g, request
from sqlalchemy import Connection, delete, select
from sqlalchemy.orm import Session

from connector import db
from connector.db import utcnow

from .models import ScimRequest

KEEP = 500       # rows kept per organization
PRUNE_EVERY = 50  # prune when a new row's id is a multiple of this
_TABLE = ScimRequest.__table__
_INSERT = _TABLE.insert().returning(_TABLE.c.id)  # built once: cheaper than building it per call


def start() -> None:
    g.scim_started = time.perf_counter()


def attribute(org_id: int, token_id: int) -> None:
    """Called once the token is known: the request belongs to that organization's log."""
    g.scim_org_id, g.scim_token_id = org_id, token_id


def write(session: Session, response: Response) -> None:
    """Log the request in the request's own transaction, just before it commits (one commit,
    not two: on SQLite every transaction queues for the one write lock)."""
    if g.get("scim_org_id") is not None:
        _insert(session.connection(), _row(response))


def written() -> None:
    """The request's transaction, with its log row, committed: ``finish`` has nothing to do."""
    g.scim_logged = True


def finish(response: Response) -> Response:
    """Log a request that ``write`` did not (errors, rollbacks) in its own short transaction."""
    if g.get("scim_org_id") is None or g.get("scim_logged"):
        return response  # no valid token (nothing to attribute it to), or already logged
    row = _row(response)
    with db.engine().begin() as conn:
        _insert(conn, row)
    return response


def _row(response: Response) -> dict:
    org_id = g.scim_org_id
    scim_type = None
    if response.status_code >= 400 and response.mimetype and "json" in response.mimetype:
        try:
            scim_type = json.loads(response.get_data()).get("scimType")
        except (ValueError, AttributeError):
            scim_type = None
    path = request.full_path.rstrip("?")[:500]
    started = g.get("scim_started", time.perf_counter())
    return {"organization_id": org_id, "token_id": g.get("scim_token_id"),
            "method": request.method, "path": path, "status": response.status_code,
            "scim_type": scim_type, "created_at": utcnow(),
            "duration_ms": int((time.perf_counter() - started) * 1000)}


def _insert(conn: Connection, row: dict) -> None:
    new_id = conn.execute(_INSERT, row).scalar_one()
    if new_id % PRUNE_EVERY == 0:
        org_id = row["organization_id"]
        cutoff = conn.execute(select(_TABLE.c.id).where(_TABLE.c.organization_id == org_id)
                              .order_by(_TABLE.c.id.desc()).offset(KEEP).limit(1)).scalar()
        if cutoff is not None:
            conn.execute(delete(_TABLE).where(_TABLE.c.organization_id == org_id,
                                              _TABLE.c.id <= cutoff))


def recent(session, org_id: int, limit: int = 50) -> list[ScimRequest]:
    return list(session.scalars(select(ScimRequest).where(ScimRequest.organization_id == org_id)
                                .order_by(ScimRequest.id.desc()).limit(limit)))
