"""Server time of an SSO sign-in: the OIDC callback and the SAML ACS (+ its same-site done step),
first sign-ins (account created and joined) and repeat sign-ins (matched by the link), against
panva/oidc-provider and pysaml2 on loopback. Also counts discovery/JWKS fetches.

    /work/venv/bin/python bench/sso_bench.py [N]            # SQLite, N sign-ins per case (50)
    CONNECTOR_BENCH_DATABASE_URL=postgresql://... /work/venv/bin/python bench/sso_bench.py

Timed: only our server's handling of the IdP's answer (the Flask test client call), which for
OIDC includes the back-channel token request to the IdP. Not timed: the IdP's login pages."""
from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from connector import create_app, db, migrations, orgs  # noqa: E402
from connector.identity import Actor  # noqa: E402
from connector.sso import service  # noqa: E402
from providers import oidc, saml  # noqa: E402
from tests.providers.idps import (IDP_DIR, REDIRECTS, drive_idp, free_port)  # noqa: E402
from tests.providers.saml_idp import SamlIdP, parse_form  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
OP = Actor.operator()


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, n={len(ms)}"


def start_oidc(n: int):
    accounts = {f"user{i}": {"email": f"user{i}@bench.test", "email_verified": True,
                             "name": f"User {i}", "groups": ["staff"]} for i in range(n)}
    port = free_port()
    config = {"port": port, "accounts": accounts, "clients": [{
        "client_id": "generic", "client_secret": "secret-generic", "redirect_uris": REDIRECTS
        + ["http://localhost/sso/bench/oidc/callback"], "grant_types": ["authorization_code"],
        "response_types": ["code"]}]}
    proc = subprocess.Popen(["node", os.path.join(IDP_DIR, "oidc_idp.mjs")],
                            env={**os.environ, "IDP_CONFIG": json.dumps(config)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(base + "/.well-known/openid-configuration", timeout=1).ok:
                return proc, base
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("oidc-provider did not start")


def main() -> None:
    logging.disable(logging.WARNING)
    tmp = tempfile.mkdtemp()
    url = os.environ.get("CONNECTOR_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                      "BASE_URL": "http://localhost", "WTF_CSRF_ENABLED": False},
                     instance_path=os.path.join(tmp, "instance"))
    proc, issuer = start_oidc(N)
    idp = SamlIdP(tmp)
    try:
        with app.app_context():
            migrations.upgrade(db.engine())
            with db.transaction() as s:
                org = orgs.create_org(s, "bench", "Bench", actor=OP)
                from connector import domains
                domains.add_domain(s, org, "bench.test", actor=OP, verified=True)
                service.create_oidc(s, org, name="oidc", issuer=issuer, client_id="generic",
                                    client_secret="secret-generic", actor=OP)
                conn = service.create_saml(s, org, name="saml", actor=OP,
                                           metadata_url=idp.base + "/metadata")
                with app.test_request_context():
                    idp.add_sp(saml.sp_metadata(service.saml_settings(org, conn)))
        oidc.CACHE.clear()
        results = {}
        for rnd in ("first", "repeat"):
            times, fetches_before = [], oidc.CACHE.fetches
            for i in range(N):
                client = app.test_client()
                resp = client.get("/sso/bench/oidc/login")
                back = urlsplit(drive_idp(resp.headers["Location"], f"user{i}"))
                t0 = time.perf_counter()
                done = client.get(back.path + "?" + back.query)
                times.append(time.perf_counter() - t0)
                assert done.status_code == 303, done.get_data(as_text=True)
            results[f"OIDC callback, {rnd} sign-in"] = (stats(times),
                                                        oidc.CACHE.fetches - fetches_before)
        for rnd in ("first", "repeat"):
            times = []
            for i in range(N):
                idp.user = {"nameid": f"saml-{i}", "mail": [f"s{i}@bench.test"],
                            "givenName": ["S"], "sn": [str(i)]}
                client = app.test_client()
                resp = client.get("/sso/bench/saml/login")
                action, fields = parse_form(requests.get(resp.headers["Location"]).text)
                t0 = time.perf_counter()
                acs = client.post(urlsplit(action).path, data=fields)
                done = client.get(acs.headers["Location"])
                times.append(time.perf_counter() - t0)
                assert done.status_code == 303, acs.get_data(as_text=True)
            results[f"SAML ACS + done, {rnd} sign-in"] = (stats(times), None)
        print(f"database: {url.split('@')[-1]}")
        for name, (line, fetches) in results.items():
            extra = "" if fetches is None else f"; discovery/JWKS fetches during the run: {fetches}"
            print(f"{name}: {line}{extra}")
    finally:
        proc.terminate()
        idp.close()


if __name__ == "__main__":
    main()
