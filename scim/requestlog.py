"""The SCIM request log: every request a token made, with its status, kept per organization
(newest KEEP rows) so admins see what their IdP sends and what failed."""
from __future__ import annotations

import json
import time

from flask import Response, g, request
from sqlalchemy import delete, select

from connector import db
from connector.db import utcnow

from .models import ScimRequest

KEEP = 500       # rows kept per organization
PRUNE_EVERY = 50  # prune when a new row's id is a multiple of this


def start() -> None:
    g.scim_started = time.perf_counter()


def attribute(org_id: int, token_id: int) -> None:
    """Called once the token is known: the request belongs to that organization's log."""
    g.scim_org_id, g.scim_token_id = org_id, token_id


def finish(response: Response) -> Response:
    """Write the log row in its own short transaction (the request's own may have rolled back)."""
    org_id = g.get("scim_org_id")
    if org_id is None:
        return response  # no valid token: nothing to attribute it to
    scim_type = None
    if response.status_code >= 400 and response.mimetype and "json" in response.mimetype:
        try:
            scim_type = json.loads(response.get_data()).get("scimType")
        except (ValueError, AttributeError):
            scim_type = None
    path = request.full_path.rstrip("?")[:500]
    row = {"organization_id": org_id, "token_id": g.get("scim_token_id"),
           "method": request.method, "path": path, "status": response.status_code,
           "scim_type": scim_type, "created_at": utcnow(),
           "duration_ms": int((time.perf_counter() - g.get("scim_started", time.perf_counter()))
                              * 1000)}
    with db.engine().begin() as conn:
        new_id = conn.execute(ScimRequest.__table__.insert().returning(ScimRequest.id),
                              row).scalar_one()
        if new_id % PRUNE_EVERY == 0:
            cutoff = conn.execute(select(ScimRequest.id).where(
                ScimRequest.organization_id == org_id).order_by(ScimRequest.id.desc())
                .offset(KEEP).limit(1)).scalar()
            if cutoff is not None:
                conn.execute(delete(ScimRequest).where(ScimRequest.organization_id == org_id,
                                                       ScimRequest.id <= cutoff))
    return response


def recent(session, org_id: int, limit: int = 50) -> list[ScimRequest]:
    return list(session.scalars(select(ScimRequest).where(ScimRequest.organization_id == org_id)
                                .order_by(ScimRequest.id.desc()).limit(limit)))
