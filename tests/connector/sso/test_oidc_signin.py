"""OIDC sign-in end to end against panva/oidc-provider: success per preset, every refusal."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from connector import orgs
from connector.identity import Identity, Source
from connector.models import LinkedIdentity, Membership, User
from connector.sso.models import SigninAttempt
from tests.connector.sso.conftest import add_oidc
from tests.providers.idps import oidc_signin

pytestmark = pytest.mark.slow


def _users(factory):
    return factory.run(lambda s: {u.email: u for u in s.scalars(select(User))})


def _attempts(factory):
    return factory.run(lambda s: [(a.outcome, a.reason) for a in
                                  s.scalars(select(SigninAttempt).order_by(SigninAttempt.id))])


def _signed_in_uid(client):
    with client.session_transaction() as sess:
        return sess.get("uid")


def test_generic_oidc_signin_creates_member_and_signs_in(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "alice")
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/orgs/acme")
    alice = _users(factory)["alice@acme.test"]
    assert (alice.given_name, alice.family_name, alice.email_verified) == ("Alice", "Archer", True)
    assert _signed_in_uid(client) == alice.id
    link = factory.run(lambda s: s.scalar(select(LinkedIdentity)))
    # Keyed on issuer + sub, never on the email.
    assert link.external_id == f"{oidc_idp.issuer}|alice"
    assert link.connection.startswith("oidc:")
    assert _attempts(factory) == [("success", "")]


def test_second_signin_matches_the_link_and_updates_attributes(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    oidc_signin(client, "acme", "idp", "alice")
    uid = _users(factory)["alice@acme.test"].id
    factory.run(lambda s: s.get(User, uid).__setattr__("given_name", "Old"))
    resp = oidc_signin(client, "acme", "idp", "alice")
    assert resp.status_code == 303
    users = _users(factory)
    assert len(users) == 2 and users["alice@acme.test"].given_name == "Alice"


def test_group_claim_maps_to_role_at_each_signin(client, factory, acme, oidc_idp):
    factory.run(lambda s: orgs.update_org(s, orgs.require_org(s, "acme"), {
        "settings": {"role_mapping": {"acme-admins": "admin"}}}, actor=orgs_actor()))
    add_oidc(factory, oidc_idp, "acme", "okta", "okta", preset="okta")
    assert oidc_signin(client, "acme", "okta", "boss").status_code == 303
    role = factory.run(lambda s: s.scalar(select(Membership.role).join(User).where(
        User.email == "boss@acme.test")))
    assert role == "admin"


def orgs_actor():
    from connector.identity import Actor
    return Actor.operator()


def test_next_is_honoured_for_same_site_paths(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "alice", next_url="/orgs/acme/members?x=1")
    assert resp.headers["Location"].endswith("/orgs/acme/members?x=1")


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/x", "/\\evil.test",
                                    "javascript:alert(1)"])
def test_open_redirect_next_is_ignored(client, factory, acme, oidc_idp, target):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "alice", next_url=target)
    assert resp.status_code == 303
    assert urlsplit(resp.headers["Location"]).path == "/orgs/acme"
    assert "evil" not in resp.headers["Location"]


def test_unverified_email_is_refused_and_no_account_created(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "unverified")
    assert resp.status_code == 403
    assert "uma@acme.test" not in _users(factory)
    assert _attempts(factory) == [("failure", "domain_not_allowed")]
    assert _signed_in_uid(client) is None


def test_email_on_unverified_domain_is_refused(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "outsider")
    assert resp.status_code == 403
    assert "mallory@elsewhere.test" not in _users(factory)


def test_deactivated_member_is_refused_with_403(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    oidc_signin(client, "acme", "idp", "alice")
    uid = _users(factory)["alice@acme.test"].id
    factory.provision("acme", [Identity(user_id=uid, active=False)])
    client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None
    resp = oidc_signin(client, "acme", "idp", "alice")
    assert resp.status_code == 403
    assert "deactivated" in resp.get_data(as_text=True)
    assert _attempts(factory)[-1] == ("failure", "member_deactivated")


def test_seat_limit_is_a_readable_refusal(client, factory, oidc_idp):
    factory.org("acme", "Acme Corp", owner="owner@acme.test", seat_limit=1)
    factory.verify_domain("acme", "acme.test")
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "alice")
    assert resp.status_code == 403
    assert "no free seats" in resp.get_data(as_text=True)
    assert "alice@acme.test" not in _users(factory)


def test_existing_account_with_unverified_claim_must_sign_in_and_confirm(client, factory, acme,
                                                                         oidc_idp):
    uid = factory.member("acme", "existing@acme.test", password="pw-existing-1")
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "taken")
    assert resp.status_code == 303 and "/sso/link?t=" in resp.headers["Location"]
    link_url = resp.headers["Location"]
    page = client.get(link_url)
    assert "sign in" in page.get_data(as_text=True).lower()
    assert factory.run(lambda s: s.scalar(select(LinkedIdentity))) is None
    # The person proves the account is theirs with its password, then confirms.
    token = dict(parse_qsl(urlsplit(link_url).query))["t"]
    client.application.config["WTF_CSRF_ENABLED"] = False
    login = client.post("/signin", data={"login": "existing@acme.test",
                                         "password": "pw-existing-1"})
    assert login.status_code == 303
    done = client.post("/sso/link", data={"t": token})
    assert done.status_code == 303
    link = factory.run(lambda s: s.scalar(select(LinkedIdentity)))
    assert link.user_id == uid and link.external_id.endswith("|taken")


def test_link_confirmation_refuses_another_signed_in_account(client, factory, acme, oidc_idp):
    factory.member("acme", "existing@acme.test")
    factory.member("acme", "someone@acme.test", password="pw-someone-1")
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    link_url = oidc_signin(client, "acme", "idp", "taken").headers["Location"]
    token = dict(parse_qsl(urlsplit(link_url).query))["t"]
    client.application.config["WTF_CSRF_ENABLED"] = False
    client.post("/signin", data={"login": "someone@acme.test", "password": "pw-someone-1"})
    assert client.post("/sso/link", data={"t": token}).status_code == 403
    assert factory.run(lambda s: s.scalar(select(LinkedIdentity))) is None


def test_callback_with_foreign_state_is_refused(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")

    def swap_state(url):
        parts = urlsplit(url)
        q = dict(parse_qsl(parts.query))
        q["state"] = "attacker-state"
        return urlunsplit(parts._replace(query=urlencode(q)))
    resp = oidc_signin(client, "acme", "idp", "alice", mutate=swap_state)
    assert resp.status_code == 400
    assert _attempts(factory) == [("failure", "state_mismatch")]
    assert "alice@acme.test" not in _users(factory)


def test_state_is_single_use(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    seen = {}

    def keep(url):
        seen["url"] = url
        return url
    assert oidc_signin(client, "acme", "idp", "alice", mutate=keep).status_code == 303
    parts = urlsplit(seen["url"])
    assert client.get(parts.path + "?" + parts.query).status_code == 400


def test_rfc9207_iss_parameter_from_another_idp_is_refused(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")

    def other_iss(url):
        parts = urlsplit(url)
        q = dict(parse_qsl(parts.query))
        q["iss"] = "https://attacker.test"
        return urlunsplit(parts._replace(query=urlencode(q)))
    resp = oidc_signin(client, "acme", "idp", "alice", mutate=other_iss)
    assert resp.status_code == 400
    assert _attempts(factory) == [("failure", "iss_mismatch")]


def test_missing_iss_parameter_is_refused_when_the_idp_advertises_it(client, factory, acme,
                                                                    oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")

    def drop_iss(url):
        parts = urlsplit(url)
        q = {k: v for k, v in parse_qsl(parts.query) if k != "iss"}
        return urlunsplit(parts._replace(query=urlencode(q)))
    resp = oidc_signin(client, "acme", "idp", "alice", mutate=drop_iss)
    assert resp.status_code == 400
    assert _attempts(factory) == [("failure", "iss_missing")]


def test_entra_preset_keys_on_tenant_and_object_id(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "entra", "entra", preset="microsoft")
    assert oidc_signin(client, "acme", "entra", "entra").status_code == 303
    link = factory.run(lambda s: s.scalar(select(LinkedIdentity)))
    assert link.external_id == "tenant-acme:oid-carol"


def test_entra_email_without_xms_edov_is_not_trusted(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "entra", "entra", preset="microsoft")
    assert oidc_signin(client, "acme", "entra", "entra-unverified").status_code == 403
    assert "nina@acme.test" not in _users(factory)


def test_entra_foreign_tenant_is_refused(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "entra", "entra", preset="microsoft",
             tenants=["tenant-acme"])
    assert oidc_signin(client, "acme", "entra", "entra-foreign").status_code == 400
    assert _attempts(factory) == [("failure", "foreign_tenant")]
    assert "eve@acme.test" not in _users(factory)


def test_google_workspace_hd_is_required(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "google", "google", preset="google",
             domains_=["acme.test"])
    assert oidc_signin(client, "acme", "google", "google").status_code == 303
    assert "dave@acme.test" in _users(factory)
    resp = oidc_signin(client, "acme", "google", "gmail")
    assert resp.status_code == 400
    assert _attempts(factory)[-1] == ("failure", "wrong_hosted_domain")


def test_okta_preset_signs_in(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "okta", "okta", preset="okta")
    assert oidc_signin(client, "acme", "okta", "alice").status_code == 303
    assert _users(factory)["alice@acme.test"].email_verified


def test_test_connection_shows_claims_and_changes_nobody(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    resp = oidc_signin(client, "acme", "idp", "alice", test=True)
    assert resp.status_code == 200
    assert "alice@acme.test" in resp.get_data(as_text=True)
    assert "alice@acme.test" not in _users(factory)
    assert _signed_in_uid(client) is None
    assert _attempts(factory) == [("test", "test_connection")]
    key = factory.api_key("acme")
    shown = client.get("/api/v1/organizations/acme/sso-connections/idp",
                       headers={"Authorization": f"Bearer {key}"}).json
    assert shown["last_test"]["claims"]["email"] == "alice@acme.test"


def test_sso_source_recorded_on_membership(client, factory, acme, oidc_idp):
    add_oidc(factory, oidc_idp, "acme", "idp", "generic")
    oidc_signin(client, "acme", "idp", "alice")
    source = factory.run(lambda s: s.scalar(select(Membership.source).join(User).where(
        User.email == "alice@acme.test")))
    assert source == Source.OIDC.value


def _multi(factory, entra_idp, tenants):
    from providers import oidc
    oidc.CACHE.clear()  # the discovery document depends on entra_idp.home
    add_oidc(factory, entra_idp, "acme", "multi", "multi", preset="microsoft", tenants=tenants)


def test_entra_multi_tenant_resolves_the_tenantid_issuer(client, factory, acme, entra_idp):
    entra_idp.home = "tenant-acme"
    _multi(factory, entra_idp, ["tenant-acme"])
    assert oidc_signin(client, "acme", "multi", "entra").status_code == 303
    link = factory.run(lambda s: s.scalar(select(LinkedIdentity)))
    assert link.external_id == "tenant-acme:oid-carol"


def test_entra_multi_tenant_refuses_a_tenant_off_the_allow_list(client, factory, acme,
                                                                entra_idp):
    entra_idp.home = "tenant-evil"
    try:
        _multi(factory, entra_idp, ["tenant-acme"])
        assert oidc_signin(client, "acme", "multi", "entra-foreign").status_code == 400
    finally:
        entra_idp.home = "tenant-acme"
    assert _attempts(factory) == [("failure", "foreign_tenant")]
    assert "eve@acme.test" not in _users(factory)


def test_entra_token_whose_tid_disagrees_with_its_issuer_is_refused(client, factory, acme,
                                                                     entra_idp):
    entra_idp.home = "tenant-acme"
    _multi(factory, entra_idp, ["tenant-acme", "tenant-evil"])
    # Issued by tenant-acme but claiming tid tenant-evil: the resolved issuer does not match.
    assert oidc_signin(client, "acme", "multi", "entra-foreign").status_code == 400
    assert _attempts(factory) == [("failure", "invalid_iss")]
