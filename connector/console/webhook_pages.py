"""Webhooks: endpoints, their signing secret (shown once), and the delivery log."""
from __future__ import annotations

from flask import render_template, request

from .. import db
from ..events import WEBHOOK_EVENTS
from ..outbox import webhooks
from . import bp
from .common import NAV, actor_for, attempt, back, org_page

NAV.insert(-2, ("console.webhooks_page", "Webhooks", "webhooks.manage"))


def _render(org, created=None):
    return render_template("console/webhooks.html", org=org, created=created,
                           endpoints=webhooks.list_endpoints(db.session(), org),
                           events=sorted(WEBHOOK_EVENTS))


@bp.get("/orgs/<account>/webhooks")
@org_page("webhooks.manage")
def webhooks_page(org):
    return _render(org)


@bp.post("/orgs/<account>/webhooks")
@org_page("webhooks.manage")
def add_webhook(org):
    ep = attempt(lambda s: webhooks.add_endpoint(s, org, request.form.get("url", "").strip(),
                                                 events=request.form.getlist("events"),
                                                 actor=actor_for(org)))
    # The signing secret is shown in this response; receivers need it to check signatures.
    return _render(org, created=ep) if ep else back("console.webhooks_page")


@bp.post("/orgs/<account>/webhooks/<int:endpoint_id>/remove")
@org_page("webhooks.manage")
def remove_webhook(org, endpoint_id):
    attempt(lambda s: webhooks.remove_endpoint(s, org, endpoint_id, actor=actor_for(org)),
            "The endpoint is removed.")
    return back("console.webhooks_page")


@bp.get("/orgs/<account>/webhooks/<int:endpoint_id>")
@org_page("webhooks.manage")
def webhook_deliveries(org, endpoint_id):
    session = db.session()
    return render_template("console/webhook_deliveries.html", org=org,
                           endpoint=webhooks.require_endpoint(session, org, endpoint_id),
                           deliveries=webhooks.list_deliveries(session, org, endpoint_id))


@bp.post("/orgs/<account>/webhooks/<int:endpoint_id>/redeliver/<int:delivery_id>")
@org_page("webhooks.manage")
def redeliver(org, endpoint_id, delivery_id):
    attempt(lambda s: webhooks.redeliver(s, org, delivery_id, actor=actor_for(org)),
            "The event is queued again.")
    return back("console.webhook_deliveries", endpoint_id=endpoint_id)
