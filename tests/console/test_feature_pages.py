"""Console pages over the feature services (invites, imports, generated accounts, SSO, ...)."""
from __future__ import annotations

import re
from importlib.util import find_spec

import pytest
from sqlalchemy import select

from connector import db
from connector.models import OutboxMessage
from tests.console.helpers import post, seed, sign_in

needs = {name: pytest.mark.skipif(find_spec(f"connector.{name}") is None,
                                  reason=f"connector.{name} is not in this build")
         for name in ("invites", "imports", "accounts", "sso", "ldap", "outbox")}


@needs["invites"]
def test_invitations_are_sent_resent_and_revoked_from_the_console(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    html = post(client, "/orgs/acme/invites/invitations",
                {"addresses": "a@x.test, not-an-email\nmember@acme.test", "role": "staff"},
                page="/orgs/acme/invites").get_data(True)
    assert "a@x.test — invitation sent" in html
    assert "not an email address" in html and "already a member" in html
    from connector.invites.models import Invitation
    with app.app_context():
        inv = db.session().scalar(select(Invitation))
        assert db.session().scalar(select(OutboxMessage).where(
            OutboxMessage.topic == "invitation")) is not None
    post(client, f"/orgs/acme/invites/invitations/{inv.id}/resend", page="/orgs/acme/invites")
    with app.app_context():
        assert db.session().get(Invitation, inv.id).sent_count == 2
    post(client, f"/orgs/acme/invites/invitations/{inv.id}/revoke", page="/orgs/acme/invites")
    with app.app_context():
        assert db.session().get(Invitation, inv.id).status == "revoked"


@needs["invites"]
def test_staff_may_invite_but_only_below_their_rank(app, client, factory):
    seed(factory)
    sign_in(client, "staff@acme.test")
    html = client.get("/orgs/acme/invites").get_data(True)
    assert "<option>staff</option>" in html and "<option>admin</option>" not in html
    html = post(client, "/orgs/acme/invites/codes", {"role": "admin", "expires_days": "5"},
                page="/orgs/acme/invites")
    assert "You cannot grant the admin role." in client.get(
        html.headers["Location"]).get_data(True)


@needs["invites"]
def test_member_cannot_open_the_invites_page(app, client, factory):
    seed(factory)
    sign_in(client, "member@acme.test")
    assert client.get("/orgs/acme/invites").status_code == 403
    assert not re.search(r'href="/orgs/acme/invites"', client.get("/orgs/acme").get_data(True))


BAD_CSV = ("email,first_name,last_name,role\n"
           "ada@acme.test,Ada,Lovelace,member\n"
           "not-an-email,Bad,Row,member\n"
           "grace@acme.test,Grace,Hopper,wizard\n"
           "linus@acme.test,Linus,T,staff\n")


def _upload(client, body: str = BAD_CSV):
    import io
    html = client.get("/orgs/acme/imports").get_data(True)
    from tests.console.helpers import csrf
    return client.post("/orgs/acme/imports", data={
        "csrf_token": csrf(html), "passwords": "none",
        "file": (io.BytesIO(body.encode()), "people.csv")}, content_type="multipart/form-data")


@needs["imports"]
def test_csv_import_previews_errors_by_line_and_column_then_commits(app, client, factory):
    from connector.jobs import run_pending
    seed(factory)
    sign_in(client, "admin@acme.test")
    r = _upload(client)
    assert r.status_code == 303
    job_url = r.headers["Location"]
    run_pending(app)
    html = client.get(job_url).get_data(True)
    assert "What the import would do" in html
    # Line 3's email cell and line 4's role cell are the ones marked.
    assert re.search(r'<th scope="row">3</th>\s*<td class="err-cell"[^>]*>not-an-email</td>', html)
    assert re.search(r'<td class="err-cell"[^>]*>wizard</td>', html)
    with app.app_context():
        from connector.models import User
        assert db.session().scalar(select(User).where(User.email == "ada@acme.test")) is None
    r = post(client, job_url + "/commit", page=job_url)
    real_url = r.headers["Location"]
    assert real_url != job_url
    run_pending(app)
    html = client.get(real_url).get_data(True)
    assert "Result" in html
    report = client.get(real_url + "/report.csv").get_data(True)
    assert "not-an-email" in report and "ada@acme.test" in report
    members_html = client.get("/orgs/acme/members?source=csv").get_data(True)
    assert "ada@acme.test" in members_html and "linus@acme.test" in members_html


@needs["imports"]
def test_job_status_of_another_organization_is_not_found(app, client, factory):
    from connector import orgs
    from connector.identity import Actor
    from connector.jobs import create_job
    seed(factory)
    factory.org("other")
    job_id = factory.run(lambda s: create_job(s, orgs.require_org(s, "other"), "csv_import", {},
                                              actor=Actor.operator()).id)
    sign_in(client, "admin@acme.test")
    assert client.get(f"/orgs/acme/jobs/{job_id}.json").status_code == 404


@needs["accounts"]
def test_generated_accounts_sheet_is_handed_out_once(app, client, factory):
    from connector.jobs import run_pending
    seed(factory)
    sign_in(client, "admin@acme.test")
    r = post(client, "/orgs/acme/accounts/generate", {"count": "5", "prefix": "pupil"})
    job_url = r.headers["Location"]
    run_pending(app)
    html = client.get(job_url).get_data(True)
    assert "5 account(s) created" in html
    other_admin = app.test_client()
    sign_in(other_admin, "owner@acme.test")
    assert "Only user:" in other_admin.get(job_url).get_data(True)
    sheet = post(client, job_url + "/sheet", {"format": "csv"}, page=job_url)
    assert sheet.headers["Content-Type"].startswith("text/csv")
    assert sheet.get_data(True).count("pupil") >= 5
    again = post(client, job_url + "/sheet", {"format": "csv"}, page=job_url)
    assert again.status_code == 303
    assert "downloaded already" in client.get(job_url).get_data(True)


@needs["sso"]
def test_sso_page_adds_oidc_with_preset_and_shows_the_redirect_uri(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    r = post(client, "/orgs/acme/sso/oidc", {
        "preset": "okta", "name": "okta", "issuer": "https://acme.okta.test",
        "client_id": "cid", "client_secret": "s3cret", "domains": "acme.test"},
        page="/orgs/acme/sso")
    html = client.get(r.headers["Location"]).get_data(True)
    assert "The OIDC connection is added" in html
    assert 'value="http://localhost/sso/acme/okta/callback"' in html
    assert "s3cret" not in html
    assert "acme.test" in html and "connector-verification=" in html  # domain waits for DNS
    post(client, "/orgs/acme/sso/okta/enabled", {"enabled": "0"}, page="/orgs/acme/sso")
    assert "Enable</button>" in client.get("/orgs/acme/sso").get_data(True)


@needs["sso"]
def test_sso_page_refuses_bad_saml_metadata_with_a_sentence(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    r = post(client, "/orgs/acme/sso/saml", {"name": "adfs", "metadata_xml": "<nope/>"},
             page="/orgs/acme/sso")
    html = client.get(r.headers["Location"]).get_data(True)
    assert 'class="flash error"' in html and "Traceback" not in html


@needs["sso"]
def test_staff_cannot_open_the_sso_page(app, client, factory):
    seed(factory)
    sign_in(client, "staff@acme.test")
    assert client.get("/orgs/acme/sso").status_code == 403


@pytest.mark.skipif(find_spec("connector.scim_admin") is None, reason="no SCIM in this build")
def test_scim_token_is_shown_once_and_authenticates_then_revoked(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    html = post(client, "/orgs/acme/scim/tokens", {"name": "entra"}, page="/orgs/acme/scim"
                ).get_data(True)
    assert 'value="http://localhost/scim/v2"' in html
    token = re.search(r'id="new-token" class="secret" readonly value="([^"]+)"', html).group(1)
    assert token not in client.get("/orgs/acme/scim").get_data(True)
    scim = app.test_client()
    if "/scim/v2/Users" in {r.rule for r in app.url_map.iter_rules()}:
        ok = scim.get("/scim/v2/Users", headers={"Authorization": "Bearer " + token})
        assert ok.status_code == 200
    from connector.models import Credential
    with app.app_context():
        tid = db.session().scalar(select(Credential.id).where(Credential.name == "entra"))
    post(client, f"/orgs/acme/scim/tokens/{tid}/revoke", page="/orgs/acme/scim")
    assert "revoked" in client.get("/orgs/acme/scim").get_data(True)


def test_scim_requests_are_listed_with_their_status_for_admins(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    html = post(client, "/orgs/acme/scim/tokens", {"name": "okta"}, page="/orgs/acme/scim"
                ).get_data(True)
    token = re.search(r'id="new-token" class="secret" readonly value="([^"]+)"', html).group(1)
    scim = app.test_client()
    auth = {"Authorization": "Bearer " + token}
    assert scim.get('/scim/v2/Users?filter=userName eq "x"', headers=auth).status_code == 200
    assert scim.get("/scim/v2/Users?filter=nope eq 1", headers=auth).status_code == 400
    assert scim.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status_code == 401
    page = client.get("/orgs/acme/scim").get_data(True)
    rows = re.findall(r"<code>(GET [^<]+)</code></td><td>(?:<strong[^>]*>)?(\d+)", page)
    assert [(r[0].split("?")[0], r[1]) for r in rows] == [("GET /scim/v2/Users", "400"),
                                                          ("GET /scim/v2/Users", "200")]
    assert "invalidFilter" in page  # the failure says why; the bad token is nobody's request


@needs["outbox"]
def test_webhook_endpoint_secret_is_shown_and_private_targets_are_refused(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    html = post(client, "/orgs/acme/webhooks", {"url": "https://93.184.215.14/hook",
                                                "events": ["member.joined"]},
                page="/orgs/acme/webhooks").get_data(True)
    assert re.search(r'id="wh-secret" class="secret" readonly value="whsec_', html)
    r = post(client, "/orgs/acme/webhooks", {"url": "http://127.0.0.1/x"},
             page="/orgs/acme/webhooks")
    assert "public addresses only" in client.get(r.headers["Location"]).get_data(True)
    assert client.get("/orgs/acme/webhooks/1").status_code == 200


@needs["sso"]
def test_organization_sign_in_page_shows_its_provider_buttons(app, client, factory):
    from connector import orgs
    from connector.identity import Actor
    from connector.sso import service
    seed(factory)
    factory.run(lambda s: service.create_oidc(
        s, orgs.require_org(s, "acme"), name="entra", preset="microsoft",
        issuer="https://login.microsoftonline.com/tenant-acme/v2.0", client_id="c",
        client_secret="s", actor=Actor.operator()))
    html = client.get("/signin?org=acme").get_data(True)
    assert "Sign in to Acme Corp" in html
    assert "Sign in with Microsoft" in html and "/sso/acme/entra/login" in html
    assert "Sign in with" not in client.get("/signin").get_data(True)


@needs["accounts"]
def test_generated_accounts_can_go_into_a_sub_organization(app, client, factory):
    from connector.jobs import run_pending
    seed(factory)
    factory.org("acme_4b", "Class 4B", parent="acme")
    sign_in(client, "admin@acme.test")
    assert "Class 4B (acme_4b)" in client.get("/orgs/acme/accounts/generate").get_data(True)
    post(client, "/orgs/acme/accounts/generate", {"count": "3", "prefix": "pupil",
                                                  "sub_organization": "acme_4b"})
    run_pending(app)
    html = client.get("/orgs/acme_4b/members?source=generated").get_data(True)
    assert html.count("pupil") >= 3


@needs["invites"]
def test_invite_code_can_point_to_a_sub_organization(app, client, factory):
    from connector.invites import codes
    seed(factory)
    factory.org("acme_4b", "Class 4B", parent="acme")
    sign_in(client, "admin@acme.test")
    html = post(client, "/orgs/acme/invites/codes", {"sub_organization": "acme_4b",
                                                      "expires_days": "7"},
                page="/orgs/acme/invites").get_data(True)
    assert re.search(r'id="new-code" class="secret" readonly value="[A-Z0-9-]+"', html)
    with app.app_context():
        from connector import orgs
        [code] = codes.list_codes(db.session(), orgs.require_org(db.session(), "acme"))
        assert code.data["sub_organization"] == "acme_4b"
