"""The admin REST API: keys, scope, permissions, stable error codes, the OpenAPI document."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from connector.models import AuditEvent, Organization


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def acme(factory):
    factory.org("acme", owner="owner@acme.com")
    factory.org("acme_eu", parent="acme")
    factory.org("globex", owner="owner@globex.com")
    return factory.api_key("acme")


def test_missing_wrong_and_revoked_keys_are_401_with_codes(client, factory, acme):
    assert client.get("/api/v1/organizations").get_json()["error"]["code"] == "missing_token"
    r = client.get("/api/v1/organizations", headers=h("cnk_wrong"))
    assert (r.status_code, r.get_json()["error"]["code"]) == (401, "invalid_token")
    keys = client.get("/api/v1/organizations/acme/api-keys", headers=h(acme)).get_json()
    kid = keys["api_keys"][0]["id"]
    assert "key" not in keys["api_keys"][0] and "token_hash" not in keys["api_keys"][0]
    assert client.delete(f"/api/v1/organizations/acme/api-keys/{kid}", headers=h(acme)).status_code == 204
    assert client.get("/api/v1/organizations", headers=h(acme)).status_code == 401


def test_key_reaches_its_org_and_sub_orgs_only(client, acme):
    r = client.get("/api/v1/organizations", headers=h(acme))
    assert [o["account"] for o in r.get_json()["organizations"]] == ["acme", "acme_eu"]
    assert client.get("/api/v1/organizations/acme_eu", headers=h(acme)).status_code == 200
    r = client.get("/api/v1/organizations/globex/members", headers=h(acme))
    assert (r.status_code, r.get_json()["error"]["code"]) == (404, "org_not_found")


def test_permissions_are_checked(client, factory, acme):
    viewer = factory.api_key("acme", ["org.view", "members.view"])
    r = client.post("/api/v1/organizations/acme/members", json={"email": "x@acme.com"},
                    headers=h(viewer))
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "permission_denied")
    r = client.post("/api/v1/organizations/acme/api-keys", json={"name": "x",
                    "permissions": ["members.manage"]}, headers=h(factory.api_key(
                        "acme", ["apikeys.manage"])))
    assert r.get_json()["error"]["code"] == "permission_escalation"


def test_member_lifecycle(client, acme):
    r = client.post("/api/v1/organizations/acme/members",
                    json={"email": "Dev@Acme.com", "role": "staff"}, headers=h(acme))
    assert r.status_code == 201 and r.get_json()["outcome"] == "created"
    uid = r.get_json()["user_id"]
    r = client.patch(f"/api/v1/organizations/acme/members/{uid}", json={"role": "admin"},
                     headers=h(acme))
    assert r.get_json()["role"] == "admin"
    r = client.patch(f"/api/v1/organizations/acme/members/{uid}", json={"role": "owner"},
                     headers=h(acme))
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "role_escalation")
    r = client.patch(f"/api/v1/organizations/acme/members/{uid}", json={"status": "deactivated"},
                     headers=h(acme))
    assert r.get_json()["status"] == "deactivated"
    listed = client.get("/api/v1/organizations/acme/members?status=deactivated", headers=h(acme))
    assert [m["email"] for m in listed.get_json()["members"]] == ["dev@acme.com"]
    r = client.patch(f"/api/v1/organizations/acme/members/{uid}", json={"status": "active"},
                     headers=h(acme))
    assert r.get_json()["status"] == "active"
    assert client.delete(f"/api/v1/organizations/acme/members/{uid}", headers=h(acme)).status_code == 204
    assert client.get(f"/api/v1/organizations/acme/members/{uid}", headers=h(acme)).status_code == 404


def test_bad_input_gets_stable_codes_and_writes_nothing(client, factory, acme):
    before = factory.run(lambda s: s.scalar(select(func.count()).select_from(AuditEvent)))
    cases = [
        ("post", "/api/v1/organizations", {"account": "Bad!", "name": "x", "parent": "acme"},
         400, "invalid_account"),
        ("post", "/api/v1/organizations", {"account": "acme", "name": "x", "parent": "acme"},
         409, "account_taken"),
        ("post", "/api/v1/organizations", {"account": "new_one", "name": "x"}, 400, "parent_required"),
        ("post", "/api/v1/organizations/acme/members", {"email": "nope"}, 400, "invalid_email"),
        ("post", "/api/v1/organizations/acme/members", {"email": "a@acme.com", "role": "god"},
         400, "unknown_role"),
        ("put", "/api/v1/organizations/acme/roles/admin", {"permissions": ["org.delete"]},
         403, "owner_only_permission"),
        ("patch", "/api/v1/organizations/acme", {"seat_limit": -1}, 400, "invalid_seat_limit"),
        ("post", "/api/v1/organizations/acme_eu/move", {"parent": "acme_eu"}, 400, "cycle"),
        ("delete", "/api/v1/organizations/acme_eu", None, 403, "owner_only"),
    ]
    for method, url, body, status, code in cases:
        r = getattr(client, method)(url, json=body, headers=h(acme))
        assert (r.status_code, r.get_json()["error"]["code"]) == (status, code), url
    r = client.post("/api/v1/organizations/acme/members", data="not json", headers=h(acme),
                    content_type="application/json")
    assert r.get_json()["error"]["code"] == "invalid_json"
    after = factory.run(lambda s: s.scalar(select(func.count()).select_from(AuditEvent)))
    assert after == before


def test_sub_org_create_and_move_through_the_api(client, acme):
    r = client.post("/api/v1/organizations", json={"account": "acme_us", "name": "US",
                                                   "parent": "acme"}, headers=h(acme))
    assert r.status_code == 201 and r.get_json()["depth"] == 2
    r = client.post("/api/v1/organizations/acme_us/move", json={"parent": "acme_eu"}, headers=h(acme))
    assert (r.status_code, r.get_json()["parent"], r.get_json()["depth"]) == (200, "acme_eu", 3)


def test_roles_can_be_tuned(client, acme):
    r = client.put("/api/v1/organizations/acme/roles/member", json={"permissions": [
        "org.view", "members.view"]}, headers=h(acme))
    assert r.status_code == 200
    roles = client.get("/api/v1/organizations/acme/roles", headers=h(acme)).get_json()["roles"]
    assert {r["name"]: r["permissions"] for r in roles}["member"] == ["members.view", "org.view"]


def test_new_key_is_shown_once(client, acme):
    r = client.post("/api/v1/organizations/acme/api-keys", json={"name": "ci",
                    "permissions": ["org.view"]}, headers=h(acme))
    key = r.get_json()["key"]
    assert r.status_code == 201 and key.startswith("cnk_")
    assert client.get("/api/v1/organizations/acme", headers=h(key)).status_code == 200
    listing = client.get("/api/v1/organizations/acme/api-keys", headers=h(acme)).get_data(as_text=True)
    assert key not in listing


def test_audit_log_lists_changes(client, acme):
    client.post("/api/v1/organizations/acme/members", json={"email": "a@acme.com"}, headers=h(acme))
    events = client.get("/api/v1/organizations/acme/audit?action=member.joined",
                        headers=h(acme)).get_json()["events"]
    assert events[0]["action"] == "member.joined" and events[0]["actor"].startswith("api_key:")


def test_unknown_api_route_is_json(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_every_api_route_is_in_the_openapi_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
    assert served <= documented, sorted(served - documented)
    assert documented <= served, sorted(documented - served)
