"""Replays of the request sequences IdPs document, written from their documentation:

- Microsoft Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint" (request and
  response examples) and "Known issues and resolutions with SCIM 2.0 protocol compliance"
  (the behaviours before and after the ``aadOptscim062020`` feature flag);
- Okta: "SCIM 2.0 protocol reference" / "Build a SCIM provisioning integration" and the
  published SCIM 2.0 spec test sequence (Runscope/BlazeMeter "Okta SCIM 2.0 SPEC Test")."""
from __future__ import annotations

from urllib.parse import quote

from .conftest import ENTERPRISE, GROUP, PATCH, USER, assert_error

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def _entra_user(user_name, ext):
    # Entra's create-user example: userName is the UPN, externalId the mailNickname.
    return {"schemas": [USER, ENTERPRISE], "externalId": ext, "userName": user_name,
            "active": True, "displayName": "Test User",
            "emails": [{"primary": True, "type": "work", "value": user_name}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName",
                     "givenName": "givenName"},
            "roles": [], ENTERPRISE: {"department": "Sales"}}


def test_entra_user_lifecycle(scim):
    # 1. Entra first queries by the matching attribute; nobody matches -> empty list, not 404.
    r = scim.get("/Users?filter=" + quote('userName eq "Test_User_dfeef4c5@testuser.com"'))
    assert r.status_code == 200
    assert r.get_json() == {"schemas": [LIST], "totalResults": 0, "itemsPerPage": 0,
                            "startIndex": 1, "Resources": []}
    # 2. Create.
    r = scim.post("/Users", _entra_user("Test_User_dfeef4c5@testuser.com", "0a21f0f2-8d2a"))
    assert r.status_code == 201
    uid = r.get_json()["id"]
    # 3. Query by userName (any case) and by externalId.
    for f in ('userName eq "test_user_DFEEF4C5@testuser.com"', 'externalId eq "0a21f0f2-8d2a"'):
        found = scim.get("/Users?filter=" + quote(f)).get_json()
        assert found["totalResults"] == 1 and found["Resources"][0]["id"] == uid
    # 4. Update with capitalized ops (pre-aadOptscim062020) and a value-filter path.
    r = scim.patch(f"/Users/{uid}", [
        {"op": "Replace", "path": "displayName", "value": "Updated Name"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "updated@testuser.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "b4b5b6"}])
    assert r.status_code == 200, r.get_json()
    u = r.get_json()
    assert u["displayName"] == "Updated Name" and u["name"]["familyName"] == "updatedFamilyName"
    assert u["emails"] == [{"primary": True, "type": "work", "value": "updated@testuser.com"}]
    assert u[ENTERPRISE]["manager"] == {"value": "b4b5b6"}
    # 5. Disable with the boolean sent as a string.
    r = scim.patch(f"/Users/{uid}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert r.get_json()["active"] is False
    # 6. Delete, then 404.
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert_error(scim.get(f"/Users/{uid}"), 404)


def test_entra_aadoptscim062020_pathless_replace_with_dotted_keys(scim):
    u = scim.user("flag@testuser.com", emails=[{"type": "work", "value": "flag@testuser.com",
                                                "primary": True}])
    # With the flag Entra sends one pathless replace whose keys are paths, booleans as JSON.
    r = scim.patch(f"/Users/{u['id']}", [{"op": "replace", "value": {
        "displayName": "Flagged", "name.givenName": "Given", "name.familyName": "Family",
        'emails[type eq "work"].value': "flag2@testuser.com", "active": False,
        f"{ENTERPRISE}:employeeNumber": "42"}}])
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["displayName"] == "Flagged" and out["name"] == {"givenName": "Given",
                                                               "familyName": "Family"}
    assert out["emails"][0]["value"] == "flag2@testuser.com" and out["active"] is False
    assert out[ENTERPRISE] == {"employeeNumber": "42"}
    # Without the flag the same update came as capitalized ops with string booleans.
    r = scim.patch(f"/Users/{u['id']}", [{"op": "Replace", "value": {"active": "True"}}])
    assert r.get_json()["active"] is True


def test_entra_group_lifecycle_old_and_new_member_removal(scim):
    a = scim.user("a@testuser.com")["id"]
    b = scim.user("b@testuser.com")["id"]
    # Entra checks for the group first, excluding members.
    q = "/Groups?excludedAttributes=members&filter=" + quote('displayName eq "Group1DisplayName"')
    assert scim.get(q).get_json()["totalResults"] == 0
    g = scim.post("/Groups", {"schemas": [GROUP], "externalId": "8aa1a0c0-c4c3",
                              "displayName": "Group1DisplayName", "meta": {"resourceType": "Group"},
                              "members": []}).get_json()
    found = scim.get(q).get_json()
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]
    gid = g["id"]
    assert scim.patch(f"/Groups/{gid}", [{"op": "Add", "path": "members",
                                          "value": [{"value": a}, {"value": b}]}]).status_code == 204
    # Before the flag: remove with path "members" and a value list.
    scim.patch(f"/Groups/{gid}", [{"op": "Remove", "path": "members", "value": [{"value": a}]}])
    # After the flag: remove with a value filter.
    scim.patch(f"/Groups/{gid}", [{"op": "remove", "path": f'members[value eq "{b}"]'}])
    assert scim.get(f"/Groups/{gid}").get_json()["members"] == []
    # Rename with a pathless replace, then delete.
    scim.patch(f"/Groups/{gid}", [{"op": "Replace", "path": "displayName", "value": "1879db59"}])
    assert scim.get(f"/Groups/{gid}").get_json()["displayName"] == "1879db59"
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert_error(scim.get(f"/Groups/{gid}"), 404)


def test_okta_spec_test_sequence(scim):
    # Okta's spec test: list with paging, filter a random user (0), create, read, filter (1),
    # duplicate (409), unknown id (404), update with PUT, deactivate with PATCH.
    r = scim.get("/Users?count=1&startIndex=1")
    assert r.status_code == 200 and r.get_json()["schemas"] == [LIST]
    assert scim.get("/Users?filter=" + quote('userName eq "nobody_12345@atko.com"')
                    ).get_json()["totalResults"] == 0
    body = {"schemas": [USER], "userName": "Runscope1@atko.com",
            "name": {"givenName": "Run", "familyName": "Scope"},
            "emails": [{"primary": True, "value": "Runscope1@atko.com", "type": "work"}],
            "displayName": "Run Scope", "locale": "en-US", "externalId": "00u1dhhb1fkIGP7RL1d8",
            "groups": [], "password": "1mz050nq", "active": True}
    r = scim.post("/Users", body)
    assert r.status_code == 201
    u = r.get_json()
    assert u["active"] is True and "password" not in u and u["userName"] == "Runscope1@atko.com"
    assert scim.get(f"/Users/{u['id']}").get_json()["userName"] == "Runscope1@atko.com"
    found = scim.get("/Users?filter=" + quote('userName eq "Runscope1@atko.com"') +
                     "&startIndex=1&count=100").get_json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == u["id"]
    assert_error(scim.post("/Users", body), 409, "uniqueness")
    assert_error(scim.get("/Users/010101010101010101"), 404)
    # Okta pushes profile changes with PUT of the whole user.
    put = {**u, "name": {"givenName": "Another", "familyName": "Scope"}}
    r = scim.put(f"/Users/{u['id']}", put)
    assert r.get_json()["name"]["givenName"] == "Another"
    # Deactivation: PATCH with a pathless replace of active.
    r = scim.call("PATCH", f"/Users/{u['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"active": False}}]})
    assert r.status_code == 200 and r.get_json()["active"] is False
    # Reactivation the same way.
    r = scim.patch(f"/Users/{u['id']}", [{"op": "replace", "value": {"active": True}}])
    assert r.get_json()["active"] is True


def test_okta_group_push(scim):
    a = scim.user("push1@atko.com")["id"]
    b = scim.user("push2@atko.com")["id"]
    g = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2",
                              "members": []}).get_json()
    gid = g["id"]
    # Okta renames with a pathless replace carrying id and displayName.
    r = scim.patch(f"/Groups/{gid}", [{"op": "replace", "value": {"id": gid,
                                                                  "displayName": "Renamed"}}])
    assert r.status_code == 204
    scim.patch(f"/Groups/{gid}", [{"op": "add", "path": "members", "value": [
        {"value": a, "display": "push1@atko.com"}, {"value": b, "display": "push2@atko.com"}]}])
    scim.patch(f"/Groups/{gid}", [{"op": "remove", "path": f'members[value eq "{a}"]'}])
    body = scim.get(f"/Groups/{gid}").get_json()
    assert body["displayName"] == "Renamed" and [m["value"] for m in body["members"]] == [b]
    # Okta's group list and lookup queries.
    assert scim.get("/Groups?startIndex=1&count=100").get_json()["totalResults"] == 1
    assert scim.get("/Groups?filter=" + quote('displayName eq "Renamed"')
                    ).get_json()["totalResults"] == 1
    assert scim.delete(f"/Groups/{gid}").status_code == 204
