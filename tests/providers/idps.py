"""Identity providers written by others, started on loopback for the SSO tests: panva's
certified oidc-provider (npm, run with node) and pysaml2 as a SAML IdP. Fixtures plus the
'browser' that drives a sign-in through them."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests
from tests.ports import free_port

IDP_DIR = os.path.join(os.path.dirname(__file__), "idp")
BASE = "http://localhost"  # the test app's BASE_URL
# (account, connection name) pairs the tests use; every client may redirect to each.
CONNECTIONS = [("acme", n) for n in ("idp", "okta", "entra", "google", "short", "multi")] + \
    [("other", "idp"), ("beta", "idp")]
REDIRECTS = [f"{BASE}/sso/{a}/{n}/callback" for a, n in CONNECTIONS]
CLIENT_IDS = ("generic", "entra", "google", "okta", "other", "short", "multi")
ACCOUNTS = {
    "alice": {"email": "alice@acme.test", "email_verified": True, "given_name": "Alice",
              "family_name": "Archer", "name": "Alice Archer", "groups": ["engineering"]},
    "boss": {"email": "boss@acme.test", "email_verified": True, "name": "The Boss",
             "groups": ["acme-admins"]},
    "unverified": {"email": "uma@acme.test", "email_verified": False, "name": "Uma"},
    "outsider": {"email": "mallory@elsewhere.test", "email_verified": True},
    "taken": {"email": "existing@acme.test", "email_verified": False},
    "entra": {"email": "carol@acme.test", "tid": "tenant-acme", "oid": "oid-carol",
              "xms_edov": True, "name": "Carol", "groups": ["g-1"], "roles": ["Admin"]},
    "entra-foreign": {"email": "eve@acme.test", "tid": "tenant-evil", "oid": "oid-eve",
                      "xms_edov": True},
    "entra-unverified": {"email": "nina@acme.test", "tid": "tenant-acme", "oid": "oid-nina"},
    "google": {"email": "dave@acme.test", "email_verified": True, "hd": "acme.test"},
    "gmail": {"email": "dave.personal@gmail.com", "email_verified": True},
}



class OidcIdP:
    def __init__(self, proc: subprocess.Popen, base: str) -> None:
        self.proc, self.issuer = proc, base

    @staticmethod
    def secret(client_id: str) -> str:
        return f"secret-{client_id}"


@pytest.fixture(scope="session")
def oidc_idp():
    """panva/oidc-provider (OpenID Certified) with test clients and accounts."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (CI installs it)")
    if not os.path.isdir(os.path.join(IDP_DIR, "node_modules", "oidc-provider")):
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed (CI installs it)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", IDP_DIR], check=True,
                       capture_output=True, timeout=300)
    port = free_port()
    config = {"port": port, "accounts": ACCOUNTS, "shortLivedClients": ["short"],
              "clients": [{"client_id": c, "client_secret": OidcIdP.secret(c),
                           "redirect_uris": REDIRECTS, "grant_types": ["authorization_code"],
                           "response_types": ["code"]} for c in CLIENT_IDS]}
    proc = _start_node(config)
    base = f"http://127.0.0.1:{port}"
    _wait(proc, base + "/.well-known/openid-configuration")
    yield OidcIdP(proc, base)
    proc.terminate()
    proc.wait(10)


class EntraLike:
    """oidc-provider mounted once per tenant (/tenant-acme, /tenant-evil) behind a discovery
    document that, like Entra's /organizations endpoint, advertises the literal issuer
    ``.../{tenantid}``. ``home`` picks the tenant whose endpoints the document names (Entra's
    common endpoint sends each person to their home tenant)."""

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response
        self.proc, self.node = proc, f"http://127.0.0.1:{port}"
        self.home = "tenant-acme"

        @Request.application
        def discovery(request):
            doc = requests.get(f"{self.node}/{self.home}/.well-known/openid-configuration",
                               timeout=5).json()
            doc["issuer"] = self.node + "/{tenantid}"
            return Response(json.dumps(doc), mimetype="application/json")
        self.server = make_server("127.0.0.1", 0, discovery, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}/organizations/v2.0"
        import threading
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _start_node(config: dict) -> subprocess.Popen:
    return subprocess.Popen(["node", os.path.join(IDP_DIR, "oidc_idp.mjs")],
                            env={**os.environ, "IDP_CONFIG": json.dumps(config)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("oidc-provider did not start: " + (proc.stdout.read() if proc.stdout else ""))


@pytest.fixture(scope="session")
def entra_idp(oidc_idp):
    """Two Entra-like tenants on one loopback port, for multi-tenant {tenantid} issuers."""
    port = free_port()
    proc = _start_node({"port": port, "accounts": ACCOUNTS,
                        "mounts": ["/tenant-acme", "/tenant-evil"],
                        "clients": [{"client_id": "multi", "client_secret": OidcIdP.secret("multi"),
                                     "redirect_uris": REDIRECTS,
                                     "grant_types": ["authorization_code"],
                                     "response_types": ["code"]}]})
    _wait(proc, f"http://127.0.0.1:{port}/tenant-acme/.well-known/openid-configuration")
    idp = EntraLike(proc, port)
    yield idp
    idp.server.shutdown()
    proc.terminate()
    proc.wait(10)


def drive_idp(url: str, login: str, stop_prefix: str = BASE) -> str:
    """Be the browser at oidc-provider's login and consent pages; the redirect back to us."""
    browser = requests.Session()
    resp = browser.get(url, allow_redirects=False, timeout=10)
    for _ in range(12):
        loc = resp.headers.get("Location")
        if loc:
            loc = urljoin(resp.url, loc)
            if loc.startswith(stop_prefix):
                return loc
            resp = browser.get(loc, allow_redirects=False, timeout=10)
            continue
        import re
        action = re.search(r'<form[^>]*action="([^"]+)"', resp.text).group(1)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', resp.text))
        resp = browser.post(urljoin(resp.url, action),
                            data={**fields, "login": login, "password": "any"},
                            allow_redirects=False, timeout=10)
    raise AssertionError("the IdP never redirected back")


def oidc_signin(client, account: str, name: str, login: str, *, next_url: str | None = None,
                mutate=None, test: bool = False):
    """A whole OIDC sign-in: our login route, the IdP, our callback. The callback response."""
    q = []
    if next_url is not None:
        q.append("next=" + quote(next_url, safe=""))
    if test:
        q.append("test=1")
    resp = client.get(f"/sso/{account}/{name}/login" + ("?" + "&".join(q) if q else ""))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    back = drive_idp(resp.headers["Location"], login)
    if mutate:
        back = mutate(back)
    parts = urlsplit(back)
    return client.get(parts.path + "?" + parts.query)


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory):
    """pysaml2 as a SAML IdP on a loopback port."""
    if shutil.which("xmlsec1") is None:
        pytest.skip("xmlsec1 is not installed (CI installs it)")
    pytest.importorskip("saml2")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("saml2").setLevel(logging.WARNING)
    from tests.providers.saml_idp import SamlIdP
    idp = SamlIdP(str(tmp_path_factory.mktemp("samlidp")))
    yield idp
    idp.close()


def saml_post(client, idp, account: str, name: str, *, next_url: str | None = None,
              tamper=None, test: bool = False):
    """SP-initiated SAML sign-in: our login route, the IdP, a POST to our ACS."""
    from tests.providers.saml_idp import parse_form
    q = []
    if next_url is not None:
        q.append("next=" + quote(next_url, safe=""))
    if test:
        q.append("test=1")
    resp = client.get(f"/sso/{account}/{name}/login" + ("?" + "&".join(q) if q else ""))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    page = requests.get(resp.headers["Location"], timeout=10)
    assert page.status_code == 200, page.text
    action, fields = parse_form(page.text)
    if tamper:
        fields["SAMLResponse"] = tamper(fields["SAMLResponse"])
    return client.post(urlsplit(action).path, data=fields), fields
