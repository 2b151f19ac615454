"""Admin API for SSO connections, sign-in attempts and verified domains."""
from __future__ import annotations

from flask import jsonify, request

from .. import domains
from ..errors import InvalidInput
from ..sso import service
from . import body, bp, endpoint


@bp.get("/organizations/<account>/sso-connections")
@endpoint("sso.manage")
def list_sso_connections(session, caller, org):
    return jsonify({"connections": [service.connection_dict(org, c)
                                    for c in service.list_connections(session, org)]})


@bp.post("/organizations/<account>/sso-connections")
@endpoint("sso.manage")
def create_sso_connection(session, caller, org):
    d = body()
    kind = d.get("kind")
    doms = d.get("domains") or []
    if not isinstance(doms, list):
        raise InvalidInput("'domains' must be a list.", code="invalid_domains")
    if kind == "oidc":
        conn = service.create_oidc(session, org, name=str(d.get("name") or ""),
                                   issuer=str(d.get("issuer") or ""),
                                   client_id=str(d.get("client_id") or ""),
                                   client_secret=str(d.get("client_secret") or ""),
                                   preset=d.get("preset"), domains_=doms,
                                   tenants=list(d.get("allowed_tenants") or []),
                                   actor=caller.actor)
    elif kind == "saml":
        conn = service.create_saml(session, org, name=str(d.get("name") or ""),
                                   metadata_xml=d.get("metadata_xml"),
                                   metadata_url=d.get("metadata_url"), domains_=doms,
                                   sign_requests=bool(d.get("sign_requests")),
                                   want_encrypted=bool(d.get("want_encrypted")),
                                   allow_idp_initiated=bool(d.get("allow_idp_initiated")),
                                   id_attribute=str(d.get("id_attribute") or ""),
                                   actor=caller.actor)
    else:
        raise InvalidInput("'kind' is 'oidc' or 'saml'.", code="invalid_kind")
    return jsonify(service.connection_dict(org, conn)), 201


@bp.get("/organizations/<account>/sso-connections/<name>")
@endpoint("sso.manage")
def show_sso_connection(session, caller, org, name):
    conn = service.require_connection(session, org, name)
    return jsonify(service.connection_dict(org, conn, with_test=True))


@bp.patch("/organizations/<account>/sso-connections/<name>")
@endpoint("sso.manage")
def update_sso_connection(session, caller, org, name):
    conn = service.require_connection(session, org, name)
    service.update_connection(session, org, conn, body(), actor=caller.actor)
    return jsonify(service.connection_dict(org, conn, with_test=True))


@bp.delete("/organizations/<account>/sso-connections/<name>")
@endpoint("sso.manage")
def delete_sso_connection(session, caller, org, name):
    service.remove_connection(session, org, name, actor=caller.actor)
    return "", 204


@bp.get("/organizations/<account>/sso-attempts")
@endpoint("sso.manage")
def list_sso_attempts(session, caller, org):
    rows = service.list_attempts(session, org, request.args.get("connection"),
                                 request.args.get("limit", 100, type=int))
    return jsonify({"attempts": [service.attempt_dict(a, n) for a, n in rows]})


@bp.get("/organizations/<account>/domains")
@endpoint("sso.manage")
def list_org_domains(session, caller, org):
    rows = domains.list_domains(session, org)
    return jsonify({"domains": [domains.domain_dict(r) for r in rows]})


@bp.post("/organizations/<account>/domains")
@endpoint("sso.manage")
def add_org_domain(session, caller, org):
    # The verified override belongs to the platform operator (CLI), never to an API key.
    row = domains.add_domain(session, org, str(body().get("domain") or ""), actor=caller.actor)
    return jsonify(domains.domain_dict(row)), 201


@bp.post("/organizations/<account>/domains/<domain>/verify")
@endpoint("sso.manage")
def verify_org_domain(session, caller, org, domain):
    row = domains.verify_domain(session, org, domain, actor=caller.actor)
    return jsonify(domains.domain_dict(row))
