"""SAML sign-in end to end against pysaml2: ACS, replay cache, unsolicited responses, the
browser binding after the cross-site POST, SP metadata."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.models import LinkedIdentity, User
from connector.sso.models import SamlReplay, SigninAttempt
from tests.connector.sso.conftest import add_saml
from tests.providers.idps import saml_post

pytestmark = pytest.mark.slow
SP = "http://localhost/sso/acme/saml/metadata"
ACS_PATH = "/sso/acme/saml/acs"
USER = {"nameid": "saml-alice", "mail": ["alice@acme.test"], "givenName": ["Alice"],
        "sn": ["Archer"]}


@pytest.fixture
def idp(saml_idp):
    saml_idp.user, saml_idp.options, saml_idp.lifetime = dict(USER), {}, {"minutes": 15}
    return saml_idp


def _attempts(factory):
    return factory.run(lambda s: [(a.outcome, a.reason) for a in
                                  s.scalars(select(SigninAttempt).order_by(SigninAttempt.id))])


def _uid(client):
    with client.session_transaction() as sess:
        return sess.get("uid")


def test_saml_signin_creates_member_and_signs_in(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml")
    resp, _ = saml_post(client, idp, "acme", "saml", next_url="/orgs/acme/members")
    assert resp.status_code == 303 and "/acs/done?t=" in resp.headers["Location"]
    done = client.get(resp.headers["Location"])
    assert done.status_code == 303 and done.headers["Location"].endswith("/orgs/acme/members")
    user = factory.run(lambda s: s.scalar(select(User).where(User.email == "alice@acme.test")))
    assert _uid(client) == user.id and user.given_name == "Alice"
    link = factory.run(lambda s: s.scalar(select(LinkedIdentity)))
    assert link.external_id == "saml-alice" and link.connection.startswith("saml:")
    assert _attempts(factory) == [("success", "")]


def test_replayed_response_is_refused(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml")
    resp, fields = saml_post(client, idp, "acme", "saml")
    assert resp.status_code == 303
    again = client.post(ACS_PATH, data=fields)
    assert again.status_code == 400
    assert _attempts(factory)[-1] == ("failure", "replayed")
    assert factory.run(lambda s: s.scalar(select(SamlReplay.expires_at))) is not None


def test_unsolicited_response_is_refused_at_the_acs(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml")
    resp = idp.make_response(in_response_to=None, acs_url="http://localhost" + ACS_PATH,
                             sp_entity_id=SP)
    assert client.post(ACS_PATH, data={"SAMLResponse": resp}).status_code == 400
    assert _attempts(factory) == [("failure", "unsolicited_response")]
    assert factory.run(lambda s: s.scalar(select(User).where(User.email == "alice@acme.test"))) \
        is None


def test_idp_initiated_when_enabled_is_still_replay_protected(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml", allow_idp_initiated=True)
    resp = idp.make_response(in_response_to=None, acs_url="http://localhost" + ACS_PATH,
                             sp_entity_id=SP)
    first = client.post(ACS_PATH, data={"SAMLResponse": resp})
    assert first.status_code == 303
    assert client.get(first.headers["Location"]).status_code == 303
    assert _uid(client) is not None
    assert client.post(ACS_PATH, data={"SAMLResponse": resp}).status_code == 400
    assert _attempts(factory)[-1] == ("failure", "replayed")


def test_response_finished_in_another_browser_does_not_sign_it_in(app, client, factory, acme,
                                                                 idp):
    add_saml(factory, idp, "acme", "saml")
    resp, _ = saml_post(client, idp, "acme", "saml")
    other_browser = app.test_client()
    done = other_browser.get(resp.headers["Location"])
    assert done.status_code == 400
    assert _uid(other_browser) is None


def test_one_idp_entity_serves_one_organization(factory, acme, idp):
    from connector.errors import Conflict
    add_saml(factory, idp, "acme", "saml")
    factory.org("beta", "Beta")
    with pytest.raises(Conflict):
        add_saml(factory, idp, "beta", "idp")


def test_relay_state_fits_80_bytes_and_tampering_is_refused(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml")

    def keep(b64):
        return b64
    resp, fields = saml_post(client, idp, "acme", "saml", next_url="/orgs/acme/" + "x" * 200,
                             tamper=keep)
    # SAML bindings §3.4.3: RelayState MUST NOT exceed 80 bytes.
    assert len(fields["RelayState"]) <= 80
    assert resp.status_code == 303
    resp, fields = saml_post(client, idp, "acme", "saml")
    stamp, rid, mac = fields["RelayState"].split(".")
    forged = {**fields, "RelayState": f"t{stamp[1:]}.{rid}.{mac}"}  # flip to "test" mode
    assert client.post(ACS_PATH, data=forged).status_code == 400
    assert _attempts(factory)[-1] == ("failure", "bad_relay_state")


def test_sp_metadata_is_served_per_connection(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml")
    resp = client.get("/sso/acme/saml/metadata")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert f'entityID="{SP}"' in body and "http://localhost" + ACS_PATH in body
    assert "BEGIN" not in body and "PRIVATE" not in body


def test_test_connection_shows_attributes(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml")
    resp, _ = saml_post(client, idp, "acme", "saml", test=True)
    assert resp.status_code == 200 and "alice@acme.test" in resp.get_data(as_text=True)
    assert _uid(client) is None
    assert _attempts(factory) == [("test", "test_connection")]


def test_acs_needs_no_csrf_token(app, factory, acme, idp):
    app.config["WTF_CSRF_ENABLED"] = True
    add_saml(factory, idp, "acme", "saml")
    client = app.test_client()
    resp, _ = saml_post(client, idp, "acme", "saml")
    assert resp.status_code == 303


def test_idp_initiated_with_the_idps_own_relay_state(client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml", allow_idp_initiated=True)
    resp = idp.make_response(in_response_to=None, acs_url="http://localhost" + ACS_PATH,
                             sp_entity_id=SP)
    first = client.post(ACS_PATH, data={"SAMLResponse": resp, "RelayState": "/dashboard"})
    assert first.status_code == 303
    assert client.get(first.headers["Location"]).headers["Location"].endswith("/orgs/acme")


def test_idp_initiated_done_link_is_single_use(app, client, factory, acme, idp):
    add_saml(factory, idp, "acme", "saml", allow_idp_initiated=True)
    resp = idp.make_response(in_response_to=None, acs_url="http://localhost" + ACS_PATH,
                             sp_entity_id=SP)
    done_url = client.post(ACS_PATH, data={"SAMLResponse": resp}).headers["Location"]
    assert client.get(done_url).status_code == 303
    other_browser = app.test_client()
    assert other_browser.get(done_url).status_code == 400
    assert _uid(other_browser) is None
