"""API keys (shown once, revocable) and the audit log with filters and CSV export."""
from __future__ import annotations

import json
from datetime import date

from flask import Response, g, render_template, request, stream_with_context

from .. import auth, credentials, db
from ..errors import Forbidden
from ..imports.report import csv_lines
from ..models import AuditEvent, CredentialKind
from ..roles import OWNER_ONLY, PERMISSIONS
from . import bp, queries
from .common import actor_for, attempt, back, org_page

AUDIT_PAGE = 100
EXPORT_LIMIT = 50_000


def _key_permissions() -> dict[str, str]:
    """What a key created by this person may carry: their own permissions, never owner-only."""
    return {p: d for p, d in PERMISSIONS.items() if p in g.perms and p not in OWNER_ONLY}


@bp.get("/orgs/<account>/api-keys")
@org_page("apikeys.manage")
def api_keys(org):
    return _render_keys(org, None)


@bp.post("/orgs/<account>/api-keys")
@org_page("apikeys.manage")
def create_api_key(org):
    wanted = request.form.getlist("permissions")
    name = (request.form.get("name") or "").strip()

    def create(session):
        if not set(wanted) <= set(_key_permissions()):
            raise Forbidden("A key can only carry permissions you have yourself.",
                            code="permission_escalation")
        # Owned by its creator: the key stops working when their membership ends.
        return credentials.create(session, org, CredentialKind.API_KEY, name=name,
                                  permissions=wanted, actor=actor_for(org),
                                  user_id=auth.current_user().id)
    made = attempt(create)
    if made is None:
        return back("console.api_keys")
    # Rendered in this response only: the secret is never stored, logged or put in a URL.
    return _render_keys(org, made[1])


def _render_keys(org, secret: str | None):
    keys = credentials.list_credentials(db.session(), org, CredentialKind.API_KEY)
    return render_template("console/api_keys.html", org=org, keys=keys,
                           grantable=_key_permissions(), created=secret)


@bp.post("/orgs/<account>/api-keys/<int:key_id>/revoke")
@org_page("apikeys.manage")
def revoke_api_key(org, key_id):
    attempt(lambda s: credentials.revoke(s, org, CredentialKind.API_KEY, key_id,
                                         actor=actor_for(org)), "The key is revoked.")
    return back("console.api_keys")


def _audit_filters() -> dict:
    a = request.args

    def day(name):
        try:
            return date.fromisoformat(a.get(name, ""))
        except ValueError:
            return None
    return {"actor": (a.get("actor") or "").strip() or None, "action": a.get("action") or None,
            "source": a.get("source") or None, "since": day("since"), "until": day("until")}


@bp.get("/orgs/<account>/audit")
@org_page("audit.view")
def audit(org):
    session = db.session()
    filters = _audit_filters()
    stmt = queries.audit_query(org, **filters)
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    rows = list(session.scalars(stmt.limit(AUDIT_PAGE + 1)))
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return render_template("console/audit.html", org=org, rows=rows, filters=filters,
                           choices=queries.audit_choices(session, org),
                           people=queries.people(session, rows),
                           next_before=rows[-1].id if more else None)


@bp.get("/orgs/<account>/audit.csv")
@org_page("audit.view")
def audit_csv(org):
    """Streamed in keyset pages of Core rows (newest first): flat memory, no long cursor."""
    t = AuditEvent.__table__
    base = queries.audit_query(org, **_audit_filters()).with_only_columns(
        t.c.id, t.c.created_at, t.c.actor, t.c.action, t.c.source, t.c.target_type,
        t.c.target_id, t.c.data)

    def rows():
        before, sent = None, 0
        while sent < EXPORT_LIMIT:
            stmt = base if before is None else base.where(t.c.id < before)
            page = db.session().execute(stmt.limit(min(2000, EXPORT_LIMIT - sent))).all()
            for eid, at, actor, action, source, ttype, tid, data in page:
                yield [eid, at.isoformat(), actor, action, source, ttype, tid,
                       json.dumps(data, default=str)]
            if len(page) < 2000:
                break
            before, sent = page[-1][0], sent + len(page)

    # The import report's writer: RFC 4180, BOM for Excel, every cell defused (OWASP CSV
    # injection).
    lines = csv_lines(["id", "time", "actor", "action", "source", "target_type", "target_id",
                       "data"], rows())
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="audit-{org.account}.csv"'})

