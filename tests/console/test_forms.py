"""Every POST form of the console carries the CSRF token; every page asset is served locally."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "connector" / "templates"
FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.DOTALL | re.IGNORECASE)


def test_every_post_form_in_the_console_templates_has_a_csrf_token():
    missing = []
    for path in sorted((TEMPLATES / "console").glob("*.html")) + [TEMPLATES / "base.html"]:
        for form in FORM.findall(path.read_text(encoding="utf-8")):
            if re.search(r'method="post"', form, re.IGNORECASE) and "csrf_token()" not in form:
                missing.append(f"{path.name}: {form[:80]}")
    assert missing == []


def test_pages_load_no_asset_from_another_host(app, client, factory):
    from tests.console.helpers import seed, sign_in
    seed(factory)
    pages = [client.get("/signin").get_data(True)]
    sign_in(client, "owner@acme.test")
    pages += [client.get(p).get_data(True) for p in ("/orgs/acme", "/orgs/acme/members",
                                                      "/orgs/acme/settings")]
    for path, html in enumerate(pages):
        assets = re.findall(r'<(?:script|link|img)\b[^>]*(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), \
            (path, assets)


def test_deactivated_member_loses_the_organization_pages(app, client, factory):
    from connector import orgs, pipeline
    from connector.identity import Actor, Source
    from tests.console.helpers import seed, sign_in
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    assert client.get("/orgs/acme/members").status_code == 200
    factory.run(lambda s: pipeline.deprovision(s, orgs.require_org(s, "acme"), [ids["admin"]],
                                               actor=Actor.operator(), source=Source.MANUAL,
                                               mode="deactivate"))
    assert client.get("/orgs/acme/members").status_code == 404
    assert client.get("/orgs/acme").status_code == 404
