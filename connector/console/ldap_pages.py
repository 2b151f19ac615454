"""Console pages of directory sync: sources, the sync buttons, and each run's report."""
from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for

from .. import db
from ..ldap import sources
from ..ldap.models import RunStatus
from ..ldap.sync import execute, queue_run
from . import bp
from .common import NAV, actor_for, attempt, org_page

NAV.insert(6, ("console.ldap_page", "Directory sync", "ldap.manage"))


@bp.get("/orgs/<account>/ldap")
@org_page("ldap.manage")
def ldap_page(org):
    session = db.session()
    found = sources.list_sources(session, org)
    runs = {s.id: sources.list_runs(session, s, 10) for s in found}
    return render_template("console/ldap.html", org=org, sources=found, runs=runs)


@bp.post("/orgs/<account>/ldap/<int:source_id>/sync")
@org_page("ldap.manage")
def ldap_sync(org, source_id):
    """Dry runs answer at once with the diff; real runs are queued for the worker."""
    mode = request.form.get("mode", "incremental")
    dry_run, full = mode == "dry_run", mode in ("full", "dry_run")
    confirm = request.form.get("confirm_deactivations") == "1"
    run = attempt(lambda s: queue_run(s, sources.require_source(s, org, source_id), full=full,
                                      dry_run=dry_run, confirm_deactivations=confirm,
                                      actor=actor_for(org)),
                  None if dry_run else "Sync queued: the worker starts it within a minute.")
    if not run:
        return redirect(url_for("console.ldap_page", account=org.account), code=303)
    if dry_run:
        execute(run.id)
    return redirect(url_for("console.ldap_run", account=org.account, source_id=source_id,
                            run_id=run.id), code=303)


@bp.get("/orgs/<account>/ldap/<int:source_id>/runs/<int:run_id>")
@org_page("ldap.manage")
def ldap_run(org, source_id, run_id):
    session = db.session()
    src = sources.require_source(session, org, source_id)
    run = sources.require_run(session, src, run_id)
    return render_template("console/ldap_run.html", org=org, source=src, run=run,
                           active=run.status in (RunStatus.QUEUED, RunStatus.RUNNING))


@bp.get("/orgs/<account>/ldap/<int:source_id>/runs/<int:run_id>.json")
@org_page("ldap.manage")
def ldap_run_status(org, source_id, run_id):
    session = db.session()
    run = sources.require_run(session, sources.require_source(session, org, source_id), run_id)
    return jsonify(sources.serialize_run(run))
