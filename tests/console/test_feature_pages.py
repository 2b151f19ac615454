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
