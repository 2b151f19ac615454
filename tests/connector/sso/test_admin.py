"""Verified domains (DNS TXT on a loopback DNS server), SSO connections through the CLI and
the admin API, home-realm discovery and the attempt log."""
from __future__ import annotations

import json
import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from sqlalchemy import select

from connector import domains, orgs, secretbox
from connector.errors import Conflict, InvalidInput
from connector.identity import Actor
from connector.sso.models import SsoConnection
from tests.connector.sso.conftest import add_oidc, add_saml
from tests.providers.idps import oidc_signin

OPERATOR = Actor.operator()


class TxtServer:
    """A loopback DNS server answering TXT queries from ``records`` (dnspython wire format)."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            q = query.question[0]
            values = self.records.get(q.name.to_text().rstrip("."))
            if q.rdtype == dns.rdatatype.TXT and values:
                reply.answer.append(dns.rrset.from_text(
                    q.name, 60, "IN", "TXT", *[f'"{v}"' for v in values]))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), addr)


@pytest.fixture
def dns_server(app):
    server = TxtServer()
    app.config.update(DNS_NAMESERVERS="127.0.0.1", DNS_PORT=server.port)
    yield server
    server.sock.close()




def test_public_mail_domains_are_refused(factory):
    factory.org("acme", "Acme")
    with pytest.raises(InvalidInput) as err:
        factory.run(lambda s: domains.add_domain(s, orgs.require_org(s, "acme"), "Gmail.com",
                                                 actor=OPERATOR))
    assert err.value.code == "public_domain"


def test_domain_verified_by_dns_txt_record(factory, dns_server):
    factory.org("acme", "Acme")
    row = factory.run(lambda s: domains.domain_dict(domains.add_domain(
        s, orgs.require_org(s, "acme"), "acme.test", actor=OPERATOR)))
    assert row["verified"] is False

    def verify(s):
        return domains.domain_dict(domains.verify_domain(s, orgs.require_org(s, "acme"),
                                                         "acme.test", actor=OPERATOR))
    with pytest.raises(InvalidInput) as err:
        factory.run(verify)
    assert err.value.code == "txt_record_missing"
    dns_server.records["acme.test"] = ["v=spf1 -all", "connector-verification=wrong"]
    with pytest.raises(InvalidInput):
        factory.run(verify)
    dns_server.records["acme.test"].append(row["txt_record"])
    assert factory.run(verify)["verified"] is True


def test_a_domain_is_verified_by_one_organization_only(factory):
    factory.org("acme", "Acme")
    factory.org("globex", "Globex")
    factory.run(lambda s: domains.add_domain(s, orgs.require_org(s, "acme"), "acme.test",
                                             actor=OPERATOR, verified=True))
    with pytest.raises(Conflict):
        factory.run(lambda s: domains.add_domain(s, orgs.require_org(s, "globex"), "acme.test",
                                                 actor=OPERATOR, verified=True))


def test_domain_cli_add_verify_list(cli, factory, dns_server, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DNS_NAMESERVERS", "127.0.0.1")
    monkeypatch.setenv("CONNECTOR_DNS_PORT", str(dns_server.port))
    factory.org("acme", "Acme")
    added = json.loads(cli("domain", "add", "acme", "acme.test", "--json").output)
    assert cli("domain", "verify", "acme", "acme.test", ok=False).exit_code == 1
    dns_server.records["acme.test"] = [added["txt_record"]]
    assert json.loads(cli("domain", "verify", "acme", "acme.test", "--json").output)["verified"]
    cli("domain", "add", "acme", "corp.acme.test", "--verified")
    listed = json.loads(cli("domain", "list", "acme", "--json").output)
    assert [(d["domain"], d["verified"]) for d in listed] == [("acme.test", True),
                                                              ("corp.acme.test", True)]
    bad = cli("domain", "add", "acme", "gmail.com", ok=False)
    assert bad.exit_code == 1 and "(public_domain)" in bad.stderr


@pytest.mark.slow
def test_sso_cli_add_list_remove(cli, factory, oidc_idp, saml_idp, tmp_path):
    factory.org("acme", "Acme")
    out = cli("sso", "add-oidc", "acme", "--name", "okta", "--issuer", oidc_idp.issuer,
              "--client-id", "okta", "--client-secret", "secret-okta", "--preset", "okta",
              "--domain", "acme.test", "--json").output
    assert json.loads(out)["redirect_uri"] == "http://localhost/sso/acme/okta/callback"
    meta = tmp_path / "idp.xml"
    import requests
    meta.write_text(requests.get(saml_idp.base + "/metadata", timeout=5).text)
    cli("sso", "add-saml", "acme", "--name", "saml", "--metadata-file", str(meta))
    table = cli("sso", "list", "acme").output
    assert "http://localhost/sso/acme/saml/acs" in table
    assert "http://localhost/sso/acme/saml/metadata" in table
    listed = json.loads(cli("sso", "list", "acme", "--json").output)
    assert [c["name"] for c in listed] == ["okta", "saml"]
    # The same IdP cannot serve a second organization.
    factory.org("globex", "Globex")
    dup = cli("sso", "add-saml", "globex", "--name", "saml", "--metadata-file", str(meta),
              ok=False)
    assert dup.exit_code == 1 and "(sso_idp_taken)" in dup.stderr
    assert json.loads(cli("sso", "attempts", "acme", "--json").output) == []
    cli("sso", "remove", "acme", "okta")
    assert [c["name"] for c in json.loads(cli("sso", "list", "acme", "--json").output)] == \
        ["saml"]


@pytest.mark.slow
def test_client_secret_and_sp_key_are_encrypted_at_rest(factory, acme, oidc_idp, saml_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    add_saml(factory, saml_idp, "acme", "saml")
    rows = factory.run(lambda s: [(c.kind, c.secret, c.config) for c in
                                  s.scalars(select(SsoConnection))])
    for kind, secret, config in rows:
        assert secret.startswith(secretbox.PREFIX)
        assert "secret-generic" not in secret and "PRIVATE KEY" not in json.dumps(config)
    with factory.app.app_context():
        assert secretbox.open(dict((k, s) for k, s, _ in rows)["oidc"]) == "secret-generic"


@pytest.mark.slow
def test_api_manages_connections_domains_and_lists_attempts(client, factory, acme, oidc_idp):
    key = factory.api_key("acme")
    h = {"Authorization": f"Bearer {key}"}
    created = client.post("/api/v1/organizations/acme/sso-connections", headers=h, json={
        "kind": "oidc", "name": "idp", "issuer": oidc_idp.issuer, "client_id": "generic",
        "client_secret": "secret-generic"})
    assert created.status_code == 201, created.json
    assert "client_secret" not in created.json
    again = client.post("/api/v1/organizations/acme/sso-connections", headers=h, json={
        "kind": "oidc", "name": "idp2", "issuer": oidc_idp.issuer, "client_id": "generic",
        "client_secret": "x"})
    assert again.status_code == 409 and again.json["error"]["code"] == "sso_idp_taken"
    oidc_signin(client, "acme", "idp", "unverified")
    attempts = client.get("/api/v1/organizations/acme/sso-attempts", headers=h).json["attempts"]
    assert [(a["connection"], a["outcome"], a["reason"]) for a in attempts] == \
        [("idp", "failure", "domain_not_allowed")]
    added = client.post("/api/v1/organizations/acme/domains", headers=h,
                        json={"domain": "corp.acme.test"})
    assert added.status_code == 201 and added.json["verified"] is False
    listed = client.get("/api/v1/organizations/acme/domains", headers=h).json["domains"]
    assert {d["domain"] for d in listed} == {"acme.test", "corp.acme.test"}
    no_perm = factory.api_key("acme", permissions=["org.view"])
    assert client.get("/api/v1/organizations/acme/sso-connections", headers={
        "Authorization": f"Bearer {no_perm}"}).status_code == 403
    assert client.delete("/api/v1/organizations/acme/sso-connections/idp",
                         headers=h).status_code == 204


@pytest.mark.slow
def test_home_realm_discovery_by_verified_domain(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = client.get("/sso/start?email=alice@acme.test&next=/orgs/acme")
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/sso/acme/idp/login")
    assert client.get("/sso/start?email=x@unknown.test").status_code == 404


@pytest.mark.slow
def test_several_matching_organizations_offer_a_choice(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    factory.org("beta", "Beta Sub", parent="acme")
    factory.verify_domain("beta", "acme.test")
    add_oidc(factory, oidc_idp, "beta", "idp", "other")
    resp = client.get("/sso/start?email=alice@acme.test")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "/sso/acme/idp/login" in page and "/sso/beta/idp/login" in page


def test_openapi_documents_the_sso_routes(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "/organizations/{account}/sso-connections/{name}" in paths
    assert "post" in paths["/organizations/{account}/domains/{domain}/verify"]


def test_multi_tenant_entra_needs_a_tenant_allow_list(factory):
    from connector.sso import service
    factory.org("acme", "Acme")

    def add(tenants):
        return lambda s: service.create_oidc(
            s, orgs.require_org(s, "acme"), name="entra", preset="microsoft",
            issuer="https://login.microsoftonline.com/organizations/v2.0", client_id="c",
            client_secret="s", tenants=tenants, actor=OPERATOR).config["allowed_tenants"]
    with pytest.raises(InvalidInput) as err:
        factory.run(add([]))
    assert err.value.code == "tenants_required"
    assert factory.run(add(["tenant-a"])) == ["tenant-a"]


@pytest.mark.slow
def test_api_patch_enables_idp_initiated_and_disables(client, factory, acme, saml_idp):
    add_saml(factory, saml_idp, "acme", "saml")
    h = {"Authorization": f"Bearer {factory.api_key('acme')}"}
    resp = client.patch("/api/v1/organizations/acme/sso-connections/saml", headers=h,
                        json={"allow_idp_initiated": True, "enabled": False})
    assert resp.status_code == 200
    assert resp.json["allow_idp_initiated"] is True and resp.json["enabled"] is False
    assert client.get("/sso/acme/saml/login").status_code == 404
    bad = client.patch("/api/v1/organizations/acme/sso-connections/saml", headers=h,
                       json={"idp_entity_id": "x"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "unknown_field"
