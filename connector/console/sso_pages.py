"""SSO connections and verified domains, over connector.sso.service and connector.domains."""
from __future__ import annotations

from flask import render_template, request, url_for

from providers.presets import PRESETS

from .. import db, domains
from ..sso import service
from . import bp
from .common import NAV, actor_for, attempt, back, org_page

NAV.insert(5, ("console.sso", "Single sign-on", "sso.manage"))


def _lines(text: str | None) -> list[str]:
    return [d.strip() for d in (text or "").replace(",", "\n").splitlines() if d.strip()]


@bp.get("/orgs/<account>/sso")
@org_page("sso.manage")
def sso(org):
    session = db.session()
    conns = service.list_connections(session, org)
    return render_template(
        "console/sso.html", org=org, presets=PRESETS,
        connections=[(c, service.urls(org, c)) for c in conns],
        domains=domains.list_domains(session, org), txt=domains.txt_record,
        attempts=service.list_attempts(session, org, limit=50),
        test_url=lambda c: url_for("sso.login", account=org.account, name=c.name, test=1))


@bp.post("/orgs/<account>/sso/oidc")
@org_page("sso.manage")
def add_oidc(org):
    f = request.form
    attempt(lambda s: service.create_oidc(
        s, org, name=f.get("name", "").strip().lower(), issuer=f.get("issuer", ""),
        client_id=f.get("client_id", "").strip(), client_secret=f.get("client_secret", ""),
        preset=f.get("preset") or "generic", domains_=_lines(f.get("domains")),
        tenants=_lines(f.get("tenants")), actor=actor_for(org)),
        "The OIDC connection is added. Register its redirect URI at your identity provider.")
    return back("console.sso")


@bp.post("/orgs/<account>/sso/saml")
@org_page("sso.manage")
def add_saml(org):
    f = request.form
    upload = request.files.get("metadata_file")
    xml = (upload.read().decode("utf-8", "replace") if upload and upload.filename else
           f.get("metadata_xml", "")).strip() or None
    attempt(lambda s: service.create_saml(
        s, org, name=f.get("name", "").strip().lower(), metadata_xml=xml,
        metadata_url=(f.get("metadata_url") or "").strip() or None,
        domains_=_lines(f.get("domains")), sign_requests=bool(f.get("sign_requests")),
        actor=actor_for(org)),
        "The SAML connection is added. Give its SP metadata to your identity provider.")
    return back("console.sso")


@bp.post("/orgs/<account>/sso/<name>/enabled")
@org_page("sso.manage")
def toggle_sso(org, name):
    on = request.form.get("enabled") == "1"
    attempt(lambda s: service.update_connection(
        s, org, service.require_connection(s, org, name), {"enabled": on}, actor=actor_for(org)),
        f"{name} is {'enabled' if on else 'disabled'}.")
    return back("console.sso")


@bp.post("/orgs/<account>/sso/<name>/remove")
@org_page("sso.manage")
def remove_sso(org, name):
    attempt(lambda s: service.remove_connection(s, org, name, actor=actor_for(org)),
            f"{name} is removed.")
    return back("console.sso")


@bp.post("/orgs/<account>/domains")
@org_page("sso.manage")
def add_domain(org):
    attempt(lambda s: domains.add_domain(s, org, request.form.get("domain", ""),
                                         actor=actor_for(org)),
            "Domain added. Publish the TXT record, then verify it.")
    return back("console.sso")


@bp.post("/orgs/<account>/domains/<domain>/verify")
@org_page("sso.manage")
def verify_domain(org, domain):
    attempt(lambda s: domains.verify_domain(s, org, domain, actor=actor_for(org)),
            f"{domain} is verified.")
    return back("console.sso")
