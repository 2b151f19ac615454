"""An organization's landing page: who is in it, how they arrived, and what happened lately."""
from __future__ import annotations

from flask import g, render_template
from sqlalchemy import select

from .. import db, members, orgs
from ..auth import current_user
from ..models import Membership
from . import bp, queries
from .chart import bar_list, line_chart
from .common import org_page


@bp.get("/orgs/<account>")
@org_page("org.view")
def overview(org):
    session = db.session()
    mine = session.scalar(select(Membership).where(
        Membership.organization_id == org.id, Membership.user_id == current_user().id))
    ctx = {"org": org, "membership": mine}
    if "members.view" in g.perms:
        by_source = queries.members_by_source(session, org)
        days, series = queries.source_series(session, org)
        ctx.update(
            seats_used=orgs.seats_used(session, org),
            statuses=queries.status_counts(session, org),
            by_source=by_source, bars=bar_list(by_source),
            chart=line_chart(days, series, title="Active members by source, last 30 days")
            if series else None)
    if "audit.view" in g.perms:
        ctx["recent"] = members.audit_events(session, org, limit=10)
        ctx["people"] = queries.people(session, ctx["recent"])
    return render_template("console/overview.html", **ctx)

