"""Email invitations: bulk invite, the accept page for new and existing people, every way a
link can be wrong, resend and revoke, API and CLI."""
from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from connector import orgs
from connector.db import utcnow
from connector.identity import Actor
from connector.invites import invitations
from connector.invites.models import Invitation
from connector.models import Membership, OutboxMessage, User
from tests.connector.invites.conftest import sign_in

H = lambda key: {"Authorization": f"Bearer {key}"}  # noqa: E731


def _invite(factory, *emails, account="acme", **kw) -> list[dict]:
    return factory.run(lambda s: invitations.invite(s, orgs.require_org(s, account), list(emails),
                                                    actor=Actor("cli"), **kw))


def _link(factory, email: str) -> str:
    """The accept link of the newest email to ``email``, as the invitee receives it."""
    msgs = factory.run(lambda s: list(s.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "invitation").order_by(OutboxMessage.id))))
    url = [m for m in msgs if m.payload["to"] == email][-1].payload["context"]["accept_url"]
    return url.split("localhost", 1)[1]


def _member(factory, email: str, account="acme"):
    return factory.run(lambda s: s.scalar(select(Membership).join(User).where(
        User.email == email, Membership.organization_id == orgs.require_org(s, account).id)))


def test_api_invites_a_pasted_list_with_an_email_row_per_invitation(app, client, factory):
    factory.org("acme")
    factory.member("acme", "old@example.test")
    key = factory.api_key("acme")
    pasted = ("a@example.test, B@Example.test; not-an-address\n a@example.test\n"
              "Old Friend <old@example.test>\n"
              + "\n".join(f"p{i}@example.test" for i in range(200)))
    r = client.post("/api/v1/organizations/acme/invitations", headers=H(key),
                    json={"emails": pasted, "role": "staff", "message": "Hi!"})
    assert r.status_code == 201
    assert r.json["counts"] == {"invited": 202, "invalid_email": 1, "duplicate": 1,
                                "already_member": 1}
    n_inv, n_mail = factory.run(lambda s: (
        s.scalar(select(func.count()).select_from(Invitation)),
        s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic == "invitation"))))
    assert n_inv == n_mail == 202
    assert client.post("/api/v1/organizations/acme/invitations", headers=H(key),
                       json={"email": "x@example.test", "expires_days": 31}
                       ).json["error"]["code"] == "invalid_expiry"
    listed = client.get("/api/v1/organizations/acme/invitations?status=pending&limit=5",
                        headers=H(key)).json
    assert len(listed["invitations"]) == 5 and listed["invitations"][0]["role"] == "staff"


def test_new_person_creates_an_account_and_joins_then_a_second_click_says_member(
        app, client, factory, post_form):
    factory.org("acme", "Acme Corp")
    factory.org("team", parent="acme")
    _invite(factory, "new@example.test", role="staff", sub_organization="team")
    link = _link(factory, "new@example.test")
    page = client.get(link).get_data(as_text=True)
    assert "Create your account" in page and "new@example.test" in page
    r = post_form(link, {"action": "signup", "name": "Nina New", "password": "short"})
    assert r.status_code == 400 and "at least 8" in r.get_data(as_text=True)
    r = post_form(link, {"action": "signup", "name": "Nina New", "password": "long enough pw"})
    assert "You are now a member" in r.get_data(as_text=True)
    m = _member(factory, "new@example.test", "team")
    assert m.role == "staff" and m.source == "invitation" and m.user.email_verified
    inv = factory.run(lambda s: s.scalar(select(Invitation)))
    assert inv.status == "accepted" and inv.accepted_user_id == m.user_id
    again = app.test_client().get(link)
    assert again.status_code == 200 and "already a member" in again.get_data(as_text=True)


def test_existing_user_signs_in_with_password_and_joins(app, client, factory, post_form):
    factory.org("acme")
    factory.org("home")
    factory.member("home", "pat@example.test", password="pat-password-1")
    _invite(factory, "pat@example.test")
    link = _link(factory, "pat@example.test")
    assert "Sign in and join" in client.get(link).get_data(as_text=True)
    r = post_form(link, {"action": "signin", "password": "nope-nope"})
    assert r.status_code == 400 and "Wrong email or password" in r.get_data(as_text=True)
    r = post_form(link, {"action": "signin", "password": "pat-password-1"})
    assert "You are now a member" in r.get_data(as_text=True)
    assert _member(factory, "pat@example.test").source == "invitation"


def test_invitation_is_bound_to_its_address_unless_the_org_allows_any(app, client, factory,
                                                                      post_form):
    factory.org("acme")
    factory.org("home")
    factory.member("home", "eve@example.test")
    _invite(factory, "bob@example.test")
    link = _link(factory, "bob@example.test")
    sign_in(client, app, "eve@example.test")
    assert "was sent to bob@example.test" in client.get(link).get_data(as_text=True)
    r = post_form(link, {"action": "join"})
    assert "for someone else" in r.get_data(as_text=True)
    assert _member(factory, "eve@example.test") is None
    factory.run(lambda s: orgs.update_org(s, orgs.require_org(s, "acme"),
                                          {"settings": {"allow_any_invite_address": True}},
                                          actor=Actor("cli")))
    r = post_form(link, {"action": "join"})
    assert "You are now a member" in r.get_data(as_text=True)
    assert _member(factory, "eve@example.test") is not None


def test_expired_revoked_tampered_and_replaced_links_are_refused(app, client, factory,
                                                                 post_form):
    factory.org("acme")
    _invite(factory, "a@example.test", "b@example.test")
    a, b = _link(factory, "a@example.test"), _link(factory, "b@example.test")
    factory.run(lambda s: s.scalar(select(Invitation).where(
        Invitation.email == "a@example.test")).__setattr__("expires_at",
                                                           utcnow() - timedelta(minutes=1)))
    r = client.get(a)
    assert r.status_code == 410 and "expired" in r.get_data(as_text=True)
    r = client.get(b[:-3] + ("xyz" if not b.endswith("xyz") else "abc"))
    assert r.status_code == 404 and "not valid" in r.get_data(as_text=True)
    inv_b = factory.run(lambda s: s.scalar(select(Invitation.id).where(
        Invitation.email == "b@example.test")))
    factory.run(lambda s: invitations.resend(s, orgs.require_org(s, "acme"), inv_b,
                                             actor=Actor("cli")))
    new_b = _link(factory, "b@example.test")
    assert new_b != b and client.get(b).status_code == 404  # the old link stopped working
    assert client.get(new_b).status_code == 200
    factory.run(lambda s: invitations.revoke(s, orgs.require_org(s, "acme"), inv_b,
                                             actor=Actor("cli")))
    r = post_form(new_b, {"action": "signup", "password": "long enough pw"},
                  form_page="/join")
    assert r.status_code == 410 and "withdrawn" in r.get_data(as_text=True)
    assert _member(factory, "b@example.test") is None


def test_a_link_works_once(app, client, factory, post_form):
    factory.org("acme")
    _invite(factory, "a@example.test")
    link = _link(factory, "a@example.test")
    token = link.rsplit("/", 1)[1]
    first = factory.run(lambda s: invitations.accept(s, token, password="long enough pw"))
    assert first.outcome == "joined"
    r = post_form(link, {"action": "signup", "password": "another long pw"}, form_page="/join")
    assert "already a member" in r.get_data(as_text=True)
    assert factory.run(lambda s: s.scalar(select(func.count()).select_from(User).where(
        User.email == "a@example.test"))) == 1


def test_resend_and_revoke_through_the_api(app, client, factory):
    factory.org("acme")
    key = factory.api_key("acme")
    [res] = client.post("/api/v1/organizations/acme/invitations", headers=H(key),
                        json={"email": "a@example.test"}).json["results"]
    iid = res["invitation_id"]
    r = client.post(f"/api/v1/organizations/acme/invitations/{iid}/resend", headers=H(key))
    assert r.status_code == 200 and r.json["sent_count"] == 2
    assert factory.run(lambda s: s.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.topic == "invitation"))) == 2
    assert client.delete(f"/api/v1/organizations/acme/invitations/{iid}",
                         headers=H(key)).status_code == 204
    r = client.post(f"/api/v1/organizations/acme/invitations/{iid}/resend", headers=H(key))
    assert r.status_code == 409 and r.json["error"]["code"] == "invitation_revoked"
    factory.org("other")
    assert client.delete(f"/api/v1/organizations/other/invitations/{iid}",
                         headers=H(factory.api_key("other"))).status_code == 404


def test_cli_sends_lists_resends_and_revokes(app, factory, monkeypatch):
    from connector import cli
    monkeypatch.setattr(cli.CLIState, "app", property(lambda self: app))
    factory.org("acme")
    run = CliRunner().invoke
    r = run(cli.main, ["invite", "send", "acme", "a@example.test", "b@example.test",
                       "--role", "staff", "--json"])
    assert r.exit_code == 0, r.output
    assert [x["status"] for x in json.loads(r.output)] == ["invited", "invited"]
    r = run(cli.main, ["invite", "list", "acme", "--json"])
    rows = json.loads(r.output)
    assert [x["email"] for x in rows] == ["a@example.test", "b@example.test"]
    assert run(cli.main, ["invite", "resend", "acme", str(rows[0]["id"])]).exit_code == 0
    assert run(cli.main, ["invite", "revoke", "acme", str(rows[1]["id"])]).exit_code == 0
    r = run(cli.main, ["invite", "list", "acme", "--status", "revoked", "--json"])
    assert [x["email"] for x in json.loads(r.output)] == ["b@example.test"]
    r = run(cli.main, ["invite", "send", "acme", "x@example.test", "--role", "owner"])
    assert r.exit_code == 1 and "(invalid_role)" in r.output


def test_an_org_that_requires_sso_takes_no_password_accounts(app, client, factory, post_form):
    factory.org("acme", "Acme Corp")
    factory.run(lambda s: orgs.update_org(s, orgs.require_org(s, "acme"),
                                          {"settings": {"require_sso": True}},
                                          actor=Actor("cli")))
    factory.org("home")
    factory.member("home", "pat@example.test", password="pat-password-1")
    _invite(factory, "new@example.test", "pat@example.test")
    link = _link(factory, "new@example.test")
    page = client.get(link).get_data(as_text=True)
    assert "single sign-on" in page and "Create your account" not in page
    r = post_form(link, {"action": "signup", "password": "long enough pw"}, form_page="/join")
    assert "Sign in with single sign-on first" in r.get_data(as_text=True)
    pat = _link(factory, "pat@example.test")
    r = post_form(pat, {"action": "signin", "password": "pat-password-1"}, form_page="/join")
    assert "single sign-on" in r.get_data(as_text=True)
    assert _member(factory, "pat@example.test") is None
    # Signed in some other way (the SSO flow starts the session), the person joins.
    sign_in(client, app, "pat@example.test")
    assert "You are now a member" in post_form(pat, {"action": "join"}).get_data(as_text=True)
