"""Deprovisioning as Entra ID and Okta do it: active false, active true, DELETE per policy."""
from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select

from connector import orgs
from connector.identity import Identity, Outcome, Reason, Source
from connector.models import AuditEvent, LinkedIdentity, Membership, User

from .conftest import USER, assert_error


def _state(factory, scim_id):
    def run(session):
        org = orgs.require_org(session, "acme")
        uid = session.scalar(select(LinkedIdentity.user_id).where(
            LinkedIdentity.external_id == scim_id))
        m = session.scalar(select(Membership).where(Membership.organization_id == org.id,
                                                    Membership.user_id == uid))
        return uid, (m.status if m else None), session.get(User, uid)
    return factory.run(run)


def test_active_false_deactivates_and_cuts_every_access_path(scim, factory, client):
    factory.verify_domain("acme", "acme.test")
    u = scim.user("dee@acme.test", emails=[{"value": "dee@acme.test", "primary": True}])
    uid, status, _ = _state(factory, u["id"])
    assert status == "active"
    key = factory.api_key("acme", ["members.view"], user_id=uid)
    h = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/organizations/acme", headers=h).status_code in (200, 403)

    r = scim.patch(f"/Users/{u['id']}", [{"op": "replace", "path": "active", "value": False}])
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert _state(factory, u["id"])[1] == "deactivated"
    assert client.get("/api/v1/organizations/acme", headers=h).status_code == 401  # key revoked
    # SSO cannot re-join them.
    [res] = factory.provision("acme", [Identity(email="dee@acme.test", email_verified=True,
                                                external_id="sub-1")],
                              source=Source.OIDC, connection="oidc:1")
    assert res.outcome is Outcome.REJECTED and res.reason is Reason.MEMBER_DEACTIVATED
    # Still readable and findable by filter.
    assert scim.get(f"/Users/{u['id']}").get_json()["active"] is False
    found = scim.get("/Users?filter=" + quote('userName eq "dee@acme.test" and active eq false'))
    assert found.get_json()["totalResults"] == 1


def test_active_true_restores_the_membership(scim, factory):
    u = scim.user("back@acme.test")
    scim.patch(f"/Users/{u['id']}", [{"op": "replace", "path": "active", "value": False}])
    assert _state(factory, u["id"])[1] == "deactivated"
    r = scim.put(f"/Users/{u['id']}", {"schemas": [USER], "userName": "back@acme.test",
                                       "active": True})
    assert r.get_json()["active"] is True
    assert _state(factory, u["id"])[1] == "active"


def test_delete_by_default_deactivates_and_tombstones(scim, factory):
    u = scim.user("tomb@acme.test")
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    uid, status, user = _state(factory, u["id"])
    assert status == "deactivated" and user.deleted_at is None
    assert_error(scim.get(f"/Users/{u['id']}"), 404)
    ev = factory.run(lambda s: s.scalar(select(AuditEvent).where(
        AuditEvent.action == "scim.user_deleted")))
    assert ev.data["policy"] == "deactivate" and ev.actor.startswith("scim_token:")


def test_delete_policy_delete_hard_deletes_our_own_account(scim, factory):
    factory.run(lambda s: orgs.update_org(s, orgs.require_org(s, "acme"),
                                          {"settings": {"delete_policy": "delete"}},
                                          actor=orgs.Actor.operator()))
    u = scim.user("hard@acme.test")
    uid, _, _ = _state(factory, u["id"])
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    user = factory.run(lambda s: s.get(User, uid))
    assert user.deleted_at is not None and user.email is None
    assert factory.run(lambda s: s.scalar(select(Membership).where(
        Membership.user_id == uid))) is None
    assert_error(scim.get(f"/Users/{u['id']}"), 404)


def test_delete_policy_delete_only_removes_membership_of_someone_elses_account(scim, factory):
    factory.org("home")
    factory.verify_domain("acme", "shared.test")
    factory.member("home", "guest@shared.test")
    factory.run(lambda s: orgs.update_org(s, orgs.require_org(s, "acme"),
                                          {"settings": {"delete_policy": "delete"}},
                                          actor=orgs.Actor.operator()))
    # The pipeline links the SCIM user to the existing account (verified email).
    u = scim.user("guest@shared.test")
    uid, status, user = _state(factory, u["id"])
    if user.home_organization_id == factory.run(lambda s: orgs.require_org(s, "acme").id):
        raise AssertionError("expected a link to the existing account")
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    user = factory.run(lambda s: s.get(User, uid))
    assert user.deleted_at is None  # another organization's account is never deleted
    assert _state(factory, u["id"])[1] is None
