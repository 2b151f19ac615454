"""Console pages of directory sync: sources, the sync buttons, and each run's report."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for

from .. import db
from ..errors import ConnectorError
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


def _lines(name: str) -> dict[str, str]:
    """'key=value' per line (group=role, field=attribute)."""
    out = {}
    for line in (request.form.get(name) or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and value.strip():
            out[key.strip()] = value.strip()
    return out


def _form() -> dict:
    f = request.form
    pct = (f.get("max_deactivate_percent") or "").strip()
    data = {"name": (f.get("name") or "").strip(),
            "urls": [u.strip() for u in (f.get("urls") or "").split() if u.strip()],
            "start_tls": f.get("start_tls") == "1", "tls_verify": f.get("tls_verify") == "1",
            "ca_file": (f.get("ca_file") or "").strip() or None,
            "bind_dn": (f.get("bind_dn") or "").strip(), "base_dn": (f.get("base_dn") or "").strip(),
            "scope": f.get("scope", "subtree"), "preset": f.get("preset", "openldap"),
            "user_filter": (f.get("user_filter") or "").strip(),
            "mapping": _lines("mapping"), "group_kind": f.get("group_kind", "none"),
            "group_base": (f.get("group_base") or "").strip(),
            "group_filter": (f.get("group_filter") or "").strip(),
            "group_roles": _lines("group_roles"), "group_sub_orgs": _lines("group_sub_orgs"),
            "interval_minutes": int(f.get("interval_minutes") or 0),
            "max_deactivate_percent": float(pct) if pct.replace(".", "", 1).isdigit() else None,
            "enabled": f.get("enabled") == "1", "allow_signin": f.get("allow_signin") == "1",
            "ignore_referrals": f.get("ignore_referrals") == "1"}
    if f.get("bind_password"):  # empty on edit: keep the stored one
        data["bind_password"] = f["bind_password"]
    return data


@bp.route("/orgs/<account>/ldap/new", methods=["GET", "POST"])
@bp.route("/orgs/<account>/ldap/<int:source_id>/edit", methods=["GET", "POST"])
@org_page("ldap.manage")
def ldap_edit(org, source_id=None):
    src = sources.require_source(db.session(), org, source_id) if source_id else None
    if request.method == "POST":
        data = _form()

        def write(s):
            if src is None:
                return sources.add_source(s, org, data, actor=actor_for(org))
            return sources.update_source(s, org, sources.require_source(s, org, source_id), data,
                                         actor=actor_for(org))
        if attempt(write, "Directory source saved."):
            return redirect(url_for("console.ldap_page", account=org.account), code=303)
    return render_template("console/ldap_edit.html", org=org, source=src,
                           values=request.form if request.method == "POST" else None)


@bp.post("/orgs/<account>/ldap/<int:source_id>/test")
@org_page("ldap.manage")
def ldap_test(org, source_id):
    from providers.ldap import check_connection
    cfg = sources.directory_config(sources.require_source(db.session(), org, source_id))
    db.session().rollback()  # hold no database lock while the directory answers
    try:
        out = check_connection(cfg)
        groups = "" if out["groups"] is None else f" and {out['groups']} group(s)"
        flash(f"Connected{' over TLS' if out['tls'] else ' WITHOUT TLS'}; read "
              f"{len(out['sample'])} sample user(s){groups}.", "ok")
    except ConnectorError as err:
        flash(f"Test failed: {err.message}", "error")
    return redirect(url_for("console.ldap_page", account=org.account), code=303)


@bp.post("/orgs/<account>/ldap/<int:source_id>/remove")
@org_page("ldap.manage")
def ldap_remove(org, source_id):
    attempt(lambda s: sources.remove_source(s, org, sources.require_source(s, org, source_id),
                                            actor=actor_for(org)),
            "Directory source removed; the members it brought in stay.")
    return redirect(url_for("console.ldap_page", account=org.account), code=303)
