"""End-to-end journeys in headless Chromium against a real server on loopback."""
from __future__ import annotations

import os
import re
from importlib.util import find_spec

import pytest
from playwright.sync_api import expect

from tests.console.browser import AXE, ROOT, serious_violations
from tests.console.helpers import PASSWORD, seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(page, login: str, password: str = PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_and_manages_members(page, factory):
    seed(factory)
    for i in range(3):
        factory.member("acme", f"pupil{i}@acme.test", given_name=f"Pupil{i}")
    page.goto("/orgs/acme/members")
    expect(page).to_have_url(re.compile(r"/signin\?next=/orgs/acme/members"))
    page.shots("signin")
    page.get_by_label("Username or email").fill("admin@acme.test")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/orgs/acme/members$"))
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    page.shots("members")

    page.get_by_label("Search").fill("pupil1")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    row = page.locator("tbody tr", has_text="pupil1@acme.test")
    row.get_by_label("Role of pupil1@acme.test").select_option("staff")
    row.get_by_role("button", name="Change").click()
    expect(page.get_by_role("status")).to_contain_text("Role changed to staff")

    page.goto("/orgs/acme/members?q=pupil")
    page.get_by_label("Select all members on this page").check()
    page.get_by_label("With selected").select_option("deactivate")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Done for 3 member(s)")
    expect(page.locator("tbody .badge.deactivated")).to_have_count(3)
    page.shots("after-bulk-deactivate")

    page.get_by_role("link", name="Overview").click()
    expect(page.locator("svg.chart")).to_be_visible()
    page.shots("overview")
    page.set_viewport_size({"width": 390, "height": 844})
    page.shots("overview-phone")
    page.get_by_role("link", name="Members").click()
    page.shots("members-phone", full_page=False)
    page.get_by_role("link", name="Audit log", exact=True).click()
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download CSV").click()
    assert "member.deactivated" in dl.value.path().read_text(encoding="utf-8")


def test_api_key_is_shown_once_and_the_copy_button_copies_it(page, factory, live):
    import requests
    seed(factory)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, "admin@acme.test")
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("textbox", name="Name").fill("HR sync")
    page.get_by_role("checkbox", name=re.compile("^members.view")).check()
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("New API key").input_value()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == shown
    page.shots("key-created")
    r = requests.get(f"{live.url}/api/v1/organizations/acme/members",
                     headers={"Authorization": f"Bearer {shown}"}, timeout=10)
    assert r.status_code == 200 and len(r.json()["members"]) == 4
    page.goto("/orgs/acme/api-keys")
    expect(page.get_by_label("New API key")).to_have_count(0)
    expect(page.locator("tbody tr", has_text="HR sync")).to_contain_text(shown[:8])


def test_member_without_permission_cannot_reach_admin_pages(page, factory):
    seed(factory)
    sign_in(page, "member@acme.test")
    expect(page).to_have_url(re.compile(r"/orgs/acme$"))
    nav = page.get_by_role("navigation", name="Organization")
    expect(nav.get_by_role("link")).to_have_count(2)  # Overview and Sub-organizations
    page.shots("member-overview")
    for path in ("members", "settings", "api-keys", "audit"):
        resp = page.goto(f"/orgs/acme/{path}")
        assert resp.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    page.shots("forbidden")


@pytest.mark.skipif(not AXE.exists(), reason="axe-core missing: run npm ci --prefix tests/console")
def test_main_pages_have_no_serious_accessibility_violations(page, factory):
    seed(factory)
    page.goto("/signin")
    found = {"/signin": serious_violations(page)}
    for path in ("/password/forgot",):
        page.goto(path)
        found[path] = serious_violations(page)
    sign_in(page, "owner@acme.test")
    for path in ("/orgs/acme", "/orgs/acme/members", "/orgs/acme/suborganizations",
                 "/orgs/acme/roles", "/orgs/acme/api-keys", "/orgs/acme/audit",
                 "/orgs/acme/settings", "/password/change", "/orgs?all=1",
                 "/orgs/acme/invites", "/orgs/acme/imports", "/orgs/acme/accounts/generate",
                 "/orgs/acme/sso", "/orgs/acme/scim", "/orgs/acme/ldap", "/orgs/acme/webhooks"):
        if page.goto(path).status == 404:
            continue  # that feature is not in this build
        found[path] = serious_violations(page)
    assert {p: v for p, v in found.items() if v} == {}


@pytest.mark.skipif(find_spec("connector.invites") is None, reason="no invites in this build")
def test_admin_creates_invite_code_and_a_new_person_joins_with_it(page, factory, browser, live):
    seed(factory)
    sign_in(page, "admin@acme.test")
    page.get_by_role("link", name="Invites").click()
    page.get_by_text("Create an invite code").click()
    page.get_by_label("Label").fill("Class 4B")
    page.get_by_label("Maximum uses").fill("30")
    page.get_by_role("button", name="Create code").click()
    code = page.get_by_label("New invite code").input_value()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    page.shots("code-created")

    newcomer = browser.new_context(base_url=live.url).new_page()
    newcomer.goto("/signin")
    newcomer.get_by_role("link", name="Join with a code").click()
    newcomer.get_by_label("Invite code").fill(code.lower().replace("-", " "))
    newcomer.get_by_label("Email").fill("newbie@elsewhere.test")
    newcomer.get_by_label("Password").fill("a fresh password")
    newcomer.get_by_label("Your name").fill("New Bie")
    newcomer.get_by_role("button", name="Create my account and join").click()
    expect(newcomer.get_by_role("status")).to_contain_text("You are now a member of Acme Corp")
    newcomer.screenshot(path=str(page.shots.dir / "02-newcomer-joined.png"), full_page=True)
    newcomer.context.close()

    page.goto("/orgs/acme/members?q=newbie")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("invite_code")
    page.goto("/orgs/acme/invites")
    expect(page.locator("tbody tr", has_text="Class 4B")).to_contain_text("1 / 30")
    page.shots("code-used")


def _people_csv(tmp_path, good: int = 300) -> str:
    lines = ["email,first_name,last_name,role"]
    lines += [f"person{i}@acme.test,Person,{i},member" for i in range(good)]
    lines.insert(3, "not-an-email,Bad,Address,member")
    lines.insert(6, "wiz@acme.test,Wrong,Role,wizard")
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.skipif(find_spec("connector.imports") is None, reason="no CSV import in this build")
def test_admin_imports_a_csv_with_errors_previews_commits_and_gets_the_report(page, factory,
                                                                             tmp_path):
    seed(factory)
    sign_in(page, "admin@acme.test")
    page.get_by_role("link", name="CSV import").click()
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download the template").click()
    assert dl.value.path().read_text(encoding="utf-8-sig").splitlines()[0].startswith("email,")
    page.get_by_label("File").set_input_files(_people_csv(tmp_path))
    page.shots("upload")
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="What the import would do")).to_be_visible()
    errors = page.locator("td.err-cell")
    expect(errors).to_have_count(2)
    expect(errors.first).to_have_text("not-an-email")
    page.shots("preview-with-errors", full_page=False)
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=re.compile("Commit the import")).click()
    expect(page.get_by_role("heading", name=re.compile("Import of people.csv"))).to_be_visible()
    page.shots("progress", full_page=False)
    expect(page.get_by_role("heading", name="Result")).to_be_visible(timeout=60_000)
    expect(page.locator(".card", has_text="created").first).to_contain_text("300")
    page.shots("result")
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download the report (CSV)").click()
    report = dl.value.path().read_text(encoding="utf-8")
    assert "not-an-email" in report and report.count("created") >= 300


@pytest.mark.skipif(find_spec("connector.accounts") is None, reason="no generated accounts")
def test_admin_generates_30_accounts_and_a_pupil_must_change_the_password(page, factory,
                                                                          browser, live):
    import csv
    seed(factory)
    sign_in(page, "admin@acme.test")
    page.get_by_role("link", name="Generated accounts").click()
    page.get_by_label("How many").fill("30")
    page.get_by_label("Username prefix").fill("pupil")
    page.shots("form")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("status").first).to_contain_text("30 account(s) created",
                                                             timeout=60_000)
    page.shots("batch-done")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download as CSV").click()
    rows = list(csv.DictReader(dl.value.path().read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 30
    page.reload()
    expect(page.get_by_text("was downloaded already")).to_be_visible()
    first = rows[0]
    user_col = next(k for k in first if "user" in k.lower())
    pw_col = next(k for k in first if "password" in k.lower())

    pupil = browser.new_context(base_url=live.url, viewport={"width": 390, "height": 844}
                                ).new_page()
    sign_in(pupil, first[user_col], first[pw_col])
    expect(pupil.get_by_role("heading", name="Choose your own password")).to_be_visible()
    pupil.screenshot(path=str(page.shots.dir / "03-pupil-must-change.png"), full_page=True)
    pupil.get_by_label("Temporary password").fill(first[pw_col])
    pupil.get_by_label("New password", exact=True).fill("my very own secret")
    pupil.get_by_label("New password again").fill("my very own secret")
    pupil.get_by_role("button", name="Save password").click()
    expect(pupil.get_by_role("heading", name=re.compile("Acme Corp"))).to_be_visible()
    pupil.screenshot(path=str(page.shots.dir / "04-pupil-signed-in.png"), full_page=True)
    pupil.context.close()


IDP_SCRIPT = ROOT / "tests" / "providers" / "idp" / "oidc_idp.mjs"


@pytest.fixture
def oidc_idp_for(live):
    """panva/oidc-provider (the SSO tests' IdP) with one client whose redirect URI points at
    this test's live server; started per test because the server's port changes."""
    import json
    import shutil
    import socket
    import subprocess
    import time

    import requests
    if shutil.which("node") is None or not (IDP_SCRIPT.parent / "node_modules").is_dir():
        pytest.skip("node or the IdP's node_modules are missing (CI installs them)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"port": port, "accounts": {"alice": {
        "email": "alice@acme.test", "email_verified": True, "given_name": "Alice",
        "family_name": "Archer", "name": "Alice Archer"}},
        "clients": [{"client_id": "console", "client_secret": "console-secret",
                     "redirect_uris": [f"{live.url}/sso/acme/idp/callback"],
                     "grant_types": ["authorization_code"], "response_types": ["code"]}]}
    proc = subprocess.Popen(["node", str(IDP_SCRIPT)], env={**os.environ,
                            "IDP_CONFIG": json.dumps(config)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if requests.get(issuer + "/.well-known/openid-configuration", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("oidc-provider did not start")
    yield issuer
    proc.terminate()
    proc.wait(10)


@pytest.mark.skipif(find_spec("connector.sso") is None, reason="no SSO in this build")
def test_sso_button_leads_to_the_idp_and_back(page, factory, app, live, oidc_idp_for):
    from connector import orgs
    from connector.identity import Actor
    from connector.sso import service
    app.config["BASE_URL"] = live.url  # redirect URIs must name the live server
    seed(factory)
    factory.verify_domain("acme", "acme.test")
    factory.run(lambda s: service.create_oidc(
        s, orgs.require_org(s, "acme"), name="idp", issuer=oidc_idp_for, client_id="console",
        client_secret="console-secret", actor=Actor.operator()))

    page.goto("/signin")
    page.get_by_label("Work email").fill("alice@acme.test")
    page.shots("signin-sso")
    page.get_by_role("button", name="Continue with SSO").click()
    expect(page).to_have_url(re.compile(re.escape(oidc_idp_for)))
    page.shots("idp-login")
    page.locator("input[name=login]").fill("alice")
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").first.click()
    if page.url.startswith(oidc_idp_for):  # oidc-provider's consent step
        page.locator("button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(re.escape(live.url) + r"/orgs/acme$"))
    expect(page.get_by_role("heading", name=re.compile("Acme Corp"))).to_be_visible()
    page.shots("back-signed-in")

    admin = page.context.browser.new_context(base_url=live.url).new_page()
    sign_in(admin, "admin@acme.test")
    admin.goto("/orgs/acme/sso")
    expect(admin.locator("tbody tr", has_text="alice@acme.test").first).to_contain_text("success")
    admin.screenshot(path=str(page.shots.dir / "04-admin-sees-attempt.png"), full_page=True)
    admin.get_by_role("link", name="Test connection").click()
    admin.locator("input[name=login]").fill("alice")
    admin.locator("input[name=password]").fill("any")
    admin.locator("button[type=submit]").first.click()
    if admin.url.startswith(oidc_idp_for):
        admin.locator("button[type=submit]").first.click()
    expect(admin.locator("#claims")).to_contain_text("alice@acme.test")
    admin.screenshot(path=str(page.shots.dir / "05-test-connection.png"), full_page=True)
    admin.context.close()


@pytest.mark.skipif(find_spec("connector.invites") is None, reason="no invites in this build")
def test_admin_invites_by_email_and_the_invitee_accepts_with_a_new_account(page, factory, app,
                                                                            browser, live):
    from sqlalchemy import select

    from connector import db
    from connector.models import OutboxMessage
    app.config["BASE_URL"] = live.url  # links in emails name the live server
    seed(factory)
    sign_in(page, "admin@acme.test")
    page.get_by_role("link", name="Invites").click()
    page.get_by_label("Email addresses").fill("zoe@partner.test, not-an-address")
    page.get_by_label("Role", exact=True).last.select_option("staff")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_role("status").first).to_contain_text("zoe@partner.test — invitation sent")
    expect(page.get_by_role("status").first).to_contain_text("not an email address")
    page.shots("invited")
    with app.app_context():
        msg = db.session().scalar(select(OutboxMessage).where(OutboxMessage.topic == "invitation"))
        link = msg.payload["context"]["accept_url"]

    invitee = browser.new_context(base_url=live.url).new_page()
    invitee.goto(link)
    invitee.get_by_label("Your name").fill("Zoe Partner")
    invitee.get_by_label("Choose a password").fill("zoe's own password")
    invitee.get_by_role("button", name="Create account and join").click()
    expect(invitee.get_by_text("Acme Corp").first).to_be_visible()
    invitee.screenshot(path=str(page.shots.dir / "02-invitee-joined.png"), full_page=True)
    invitee.context.close()

    page.goto("/orgs/acme/members?q=zoe")
    expect(page.locator("tbody tr")).to_contain_text("staff")
    page.goto("/orgs/acme/invites?status=accepted")
    expect(page.locator("tbody tr", has_text="zoe@partner.test")).to_contain_text("accepted")
    page.shots("accepted")
