"""``connector sso ...`` and ``connector domain ...``: the operator's side of SSO."""
from __future__ import annotations

import click

from .. import domains, orgs
from ..cli import OPERATOR, command, emit, json_option
from . import service

CONN_COLUMNS = ["name", "kind", "preset", "enabled", "login_url", "callback", "metadata_url"]


def _row(org, conn) -> dict:
    d = service.connection_dict(org, conn)
    d["callback"] = d.get("redirect_uri") or d.get("acs_url")
    return d


@click.group("sso")
def sso_group() -> None:
    """Single sign-on connections (OIDC, SAML 2.0)."""


@sso_group.command("add-oidc")
@click.argument("account")
@click.option("--name", required=True)
@click.option("--issuer", required=True, help="Issuer URL (discovery at /.well-known/...).")
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--preset", type=click.Choice(["microsoft", "google", "okta"]))
@click.option("--domain", "domains_", multiple=True, help="Email domain; repeat for several.")
@click.option("--tenant", "tenants", multiple=True,
              help="Entra ID multi-tenant: an allowed tenant id; repeat for several.")
@json_option
@command
def sso_add_oidc(session, account, name, issuer, client_id, client_secret, preset, domains_,
                 tenants, as_json):
    """Add an OpenID Connect connection."""
    org = orgs.require_org(session, account)
    conn = service.create_oidc(session, org, name=name, issuer=issuer, client_id=client_id,
                               client_secret=client_secret, preset=preset,
                               domains_=list(domains_), tenants=list(tenants), actor=OPERATOR)
    emit(_row(org, conn), as_json, CONN_COLUMNS)


@sso_group.command("add-saml")
@click.argument("account")
@click.option("--name", required=True)
@click.option("--metadata-file", type=click.File("rb"))
@click.option("--metadata-url")
@click.option("--domain", "domains_", multiple=True, help="Email domain; repeat for several.")
@json_option
@command
def sso_add_saml(session, account, name, metadata_file, metadata_url, domains_, as_json):
    """Add a SAML 2.0 connection from the IdP's metadata."""
    org = orgs.require_org(session, account)
    xml = metadata_file.read(2_000_001).decode("utf-8", "replace") if metadata_file else None
    conn = service.create_saml(session, org, name=name, metadata_xml=xml,
                               metadata_url=metadata_url, domains_=list(domains_), actor=OPERATOR)
    emit(_row(org, conn), as_json, CONN_COLUMNS)


@sso_group.command("list")
@click.argument("account")
@json_option
@command
def sso_list(session, account, as_json):
    """Connections with their login, redirect/ACS and SP metadata URLs."""
    org = orgs.require_org(session, account)
    emit([_row(org, c) for c in service.list_connections(session, org)], as_json, CONN_COLUMNS)


@sso_group.command("remove")
@click.argument("account")
@click.argument("name")
@command
def sso_remove(session, account, name):
    """Remove a connection (its users keep their accounts)."""
    service.remove_connection(session, orgs.require_org(session, account), name, actor=OPERATOR)
    click.echo(f"removed SSO connection {name} of {account}")


@sso_group.command("attempts")
@click.argument("account")
@click.option("--connection")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@command
def sso_attempts(session, account, connection, limit, as_json):
    """Recent sign-in attempts with their outcome and reason code."""
    org = orgs.require_org(session, account)
    rows = [service.attempt_dict(a, n) for a, n in
            service.list_attempts(session, org, connection, limit)]
    emit(rows, as_json, ["created_at", "connection", "outcome", "reason", "email", "message"])


@click.group("domain")
def domain_group() -> None:
    """Verified email domains of an organization."""


@domain_group.command("add")
@click.argument("account")
@click.argument("domain")
@click.option("--verified", is_flag=True, help="Operator override: trust without DNS proof.")
@json_option
@command
def domain_add(session, account, domain, verified, as_json):
    """Add DOMAIN; publish the printed TXT record, then run 'domain verify'."""
    row = domains.add_domain(session, orgs.require_org(session, account), domain,
                             actor=OPERATOR, verified=verified)
    emit(domains.domain_dict(row), as_json, ["domain", "verified", "txt_record"])


@domain_group.command("verify")
@click.argument("account")
@click.argument("domain")
@json_option
@command
def domain_verify(session, account, domain, as_json):
    """Check the DNS TXT record and mark DOMAIN verified."""
    row = domains.verify_domain(session, orgs.require_org(session, account), domain,
                                actor=OPERATOR)
    emit(domains.domain_dict(row), as_json, ["domain", "verified", "verified_at"])


@domain_group.command("list")
@click.argument("account")
@json_option
@command
def domain_list(session, account, as_json):
    """Domains with their verification state and TXT record."""
    org = orgs.require_org(session, account)
    emit([domains.domain_dict(r) for r in domains.list_domains(session, org)], as_json,
         ["domain", "verified", "verified_at", "txt_record"])
