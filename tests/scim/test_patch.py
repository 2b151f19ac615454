"""PATCH (RFC 7644 §3.5.2): add/replace/remove with and without paths, value filters, URNs."""
from __future__ import annotations

from .conftest import ENTERPRISE, PATCH, assert_error


def patch(scim, uid, *ops):
    r = scim.patch(f"/Users/{uid}", list(ops))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_replace_add_remove_with_paths(scim):
    u = scim.user("p@acme.test", title="Old", nickName="Nick")
    out = patch(scim, u["id"], {"op": "replace", "path": "title", "value": "New"},
                {"op": "add", "path": "name.givenName", "value": "Pat"},
                {"op": "remove", "path": "nickName"})
    assert out["title"] == "New" and out["name"] == {"givenName": "Pat"} and "nickName" not in out


def test_add_and_replace_without_path(scim):
    u = scim.user("np@acme.test", emails=[{"value": "np@acme.test", "type": "work"}])
    out = patch(scim, u["id"], {"op": "add", "value": {
        "emails": [{"value": "np@home.test", "type": "home"}], "nickName": "N"}})
    assert [e["value"] for e in out["emails"]] == ["np@acme.test", "np@home.test"]
    out = patch(scim, u["id"], {"op": "replace", "value": {
        "emails": [{"value": "only@acme.test", "type": "work"}], "name": {"familyName": "F"}}})
    assert out["emails"] == [{"value": "only@acme.test", "type": "work"}]
    assert out["name"] == {"familyName": "F"} and out["nickName"] == "N"


def test_value_filter_paths(scim):
    u = scim.user("vf@acme.test", emails=[{"value": "vf@acme.test", "type": "work"},
                                          {"value": "vf@home.test", "type": "home"}])
    out = patch(scim, u["id"], {"op": "replace", "path": 'emails[type eq "work"].value',
                                "value": "new@acme.test"})
    assert {e["type"]: e["value"] for e in out["emails"]} == {"work": "new@acme.test",
                                                              "home": "vf@home.test"}
    out = patch(scim, u["id"], {"op": "remove", "path": 'emails[type eq "home"]'})
    assert [e["type"] for e in out["emails"]] == ["work"]
    assert_error(scim.patch(f"/Users/{u['id']}", [
        {"op": "replace", "path": 'emails[value co "nothing"]', "value": {"value": "x@y.test"}}]),
        400, "noTarget")


def test_enterprise_urn_prefixed_paths(scim):
    u = scim.user("ent@acme.test")
    out = patch(scim, u["id"],
                {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Ops"},
                {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": "m-1"}})
    assert out[ENTERPRISE] == {"department": "Ops", "manager": {"value": "m-1"}}
    out = patch(scim, u["id"], {"op": "remove", "path": f"{ENTERPRISE}:department"})
    assert out[ENTERPRISE] == {"manager": {"value": "m-1"}}


def test_errors_have_the_right_scim_type(scim):
    u = scim.user("err@acme.test")
    path = f"/Users/{u['id']}"
    assert_error(scim.patch(path, [{"op": "remove"}]), 400, "noTarget")
    assert_error(scim.patch(path, [{"op": "replace", "path": "nope", "value": 1}]), 400,
                 "invalidPath")
    assert_error(scim.patch(path, [{"op": "replace", "path": "groups", "value": []}]), 400,
                 "mutability")
    assert_error(scim.patch(path, [{"op": "replace", "path": "id", "value": "x"}]), 400,
                 "mutability")
    assert_error(scim.patch(path, [{"op": "jump", "path": "title", "value": "x"}]), 400,
                 "invalidSyntax")
    assert_error(scim.patch(path, [{"op": "replace", "path": "active", "value": "perhaps"}]), 400,
                 "invalidValue")
    assert_error(scim.patch(path, [{"op": "remove", "path": "userName"}]), 400, "invalidValue")
    assert_error(scim.call("PATCH", path, {"Operations": []}), 400, "invalidSyntax")
    assert_error(scim.patch(path, [{"op": "replace", "path": 'emails[type eq]', "value": 1}]),
                 400, "invalidFilter")


def test_userName_change_to_a_taken_one_is_409(scim):
    scim.user("taken@acme.test")
    u = scim.user("mine@acme.test")
    assert_error(scim.patch(f"/Users/{u['id']}", [
        {"op": "replace", "path": "userName", "value": "TAKEN@acme.test"}]), 409, "uniqueness")


def test_password_patch_sets_a_new_hash_and_is_never_returned(scim, factory):
    from sqlalchemy import select

    from connector.models import LinkedIdentity, User
    from connector.security import verify_password
    u = scim.user("pwd@acme.test", password="first-pass-1")
    out = patch(scim, u["id"], {"op": "replace", "path": "password", "value": "second-pass-2"})
    assert "password" not in out

    def hash_of(session):
        uid = session.scalar(select(LinkedIdentity.user_id).where(
            LinkedIdentity.external_id == u["id"]))
        return session.get(User, uid).password_hash
    assert verify_password(factory.run(hash_of), "second-pass-2")


def test_schemas_member_is_required(scim):
    u = scim.user("s@acme.test")
    r = scim.call("PATCH", f"/Users/{u['id']}", {"Operations": [
        {"op": "replace", "path": "title", "value": "x"}]})
    assert_error(r, 400, "invalidSyntax")
    r = scim.call("PATCH", f"/Users/{u['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "x"}]})
    assert r.status_code == 200
