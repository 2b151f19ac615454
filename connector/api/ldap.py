"""Admin API for LDAP directory sources and their sync runs (registered on the /api/v1 bp)."""
from __future__ import annotations

from flask import jsonify, request

from .. import db
from ..errors import InvalidInput
from ..ldap import sources
from . import _caller, _scoped, body, bp, endpoint

_BASE = "/organizations/<account>/ldap-sources"


@bp.get(_BASE)
@endpoint("ldap.manage")
def list_ldap_sources(session, caller, org):
    return jsonify({"ldap_sources": [sources.serialize(s)
                                     for s in sources.list_sources(session, org)]})


@bp.post(_BASE)
@endpoint("ldap.manage")
def create_ldap_source(session, caller, org):
    src = sources.add_source(session, org, body(), actor=caller.actor)
    return jsonify(sources.serialize(src)), 201


@bp.get(_BASE + "/<int:source_id>")
@endpoint("ldap.manage")
def show_ldap_source(session, caller, org, source_id):
    return jsonify(sources.serialize(sources.require_source(session, org, source_id)))


@bp.patch(_BASE + "/<int:source_id>")
@endpoint("ldap.manage")
def update_ldap_source(session, caller, org, source_id):
    src = sources.require_source(session, org, source_id)
    return jsonify(sources.serialize(sources.update_source(session, org, src, body(),
                                                           actor=caller.actor)))


@bp.delete(_BASE + "/<int:source_id>")
@endpoint("ldap.manage")
def delete_ldap_source(session, caller, org, source_id):
    sources.remove_source(session, org, sources.require_source(session, org, source_id),
                          actor=caller.actor)
    return "", 204


def _load(account: str, source_id: int):
    """Authorize and read the source in a short transaction: no lock held during LDAP I/O."""
    with db.transaction() as session:
        caller = _caller(session)
        org = _scoped(session, caller, account, "ldap.manage")
        return caller, sources.require_source(session, org, source_id)


@bp.post(_BASE + "/<int:source_id>/test")
def test_ldap_source(account, source_id):
    from providers.ldap import check_connection
    _, src = _load(account, source_id)
    return jsonify(check_connection(sources.directory_config(src)))


@bp.post(_BASE + "/<int:source_id>/sync")
def sync_ldap_source(account, source_id):
    """A dry run answers with its diff; a real run is queued for the worker (202)."""
    from ..ldap.sync import execute, queue_run
    d = request.get_json(silent=True) or {}
    if not isinstance(d, dict) or any(not isinstance(d.get(k, False), bool)
                                      for k in ("full", "dry_run", "confirm_deactivations")):
        raise InvalidInput("full, dry_run and confirm_deactivations are booleans.",
                           code="invalid_json")
    caller, src = _load(account, source_id)
    with db.transaction() as session:
        run = queue_run(session, src, full=d.get("full", False), dry_run=d.get("dry_run", False),
                        confirm_deactivations=d.get("confirm_deactivations", False),
                        actor=caller.actor)
        run_id = run.id
    if d.get("dry_run"):
        run = execute(run_id)
        return jsonify(sources.serialize_run(run)), 200
    return jsonify(sources.serialize_run(run)), 202


@bp.get(_BASE + "/<int:source_id>/runs")
@endpoint("ldap.manage")
def list_ldap_runs(session, caller, org, source_id):
    src = sources.require_source(session, org, source_id)
    runs = sources.list_runs(session, src, request.args.get("limit", 20, type=int))
    return jsonify({"runs": [sources.serialize_run(r) for r in runs]})


@bp.get(_BASE + "/<int:source_id>/runs/<int:run_id>")
@endpoint("ldap.manage")
def show_ldap_run(session, caller, org, source_id, run_id):
    src = sources.require_source(session, org, source_id)
    return jsonify(sources.serialize_run(sources.require_run(session, src, run_id)))
