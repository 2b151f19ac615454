"""Groups: members as rows, every member operation, group -> role / sub-organization mapping."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from connector import orgs
from connector.cli import main
from connector.models import AuditEvent, Membership

from .conftest import GROUP, assert_error


def members(scim, gid):
    body = scim.get(f"/Groups/{gid}").get_json()
    return sorted(m["value"] for m in body.get("members", []))


def users(scim, n, prefix="m"):
    return [scim.user(f"{prefix}{i}@acme.test", displayName=f"M {i}")["id"] for i in range(n)]


def test_create_group_with_members_and_refs(scim):
    a, b = users(scim, 2)
    g = scim.group("Team", [a, b], externalId="ext-team")
    assert g["displayName"] == "Team" and g["externalId"] == "ext-team"
    assert sorted(m["value"] for m in g["members"]) == sorted([a, b])
    m = next(m for m in g["members"] if m["value"] == a)
    assert m["$ref"].endswith(f"/scim/v2/Users/{a}") and m["display"] == "M 0"
    assert g["meta"]["resourceType"] == "Group" and g["meta"]["version"]
    user = scim.get(f"/Users/{a}").get_json()
    assert user["groups"][0]["value"] == g["id"] and user["groups"][0]["display"] == "Team"


def test_member_operations(scim):
    a, b, c, d = users(scim, 4)
    g = scim.group("Ops", [a])["id"]
    ok = lambda ops: scim.patch(f"/Groups/{g}", ops).status_code  # noqa: E731
    # many added in one operation
    assert ok([{"op": "add", "path": "members", "value": [{"value": b}, {"value": c}]}]) == 204
    assert members(scim, g) == sorted([a, b, c])
    # remove by value filter
    assert ok([{"op": "remove", "path": f'members[value eq "{b}"]'}]) == 204
    assert members(scim, g) == sorted([a, c])
    # removing someone who is not a member is not an error and removes nothing else
    assert ok([{"op": "remove", "path": f'members[value eq "{d}"]'}]) == 204
    assert ok([{"op": "remove", "path": 'members[value eq "no-such-id"]'}]) == 204
    assert members(scim, g) == sorted([a, c])
    # remove by value list (Entra ID)
    assert ok([{"op": "Remove", "path": "members", "value": [{"value": a}, {"value": d}]}]) == 204
    assert members(scim, g) == [c]
    # replace members, then replace with []
    assert ok([{"op": "replace", "path": "members", "value": [{"value": a}, {"value": d}]}]) == 204
    assert members(scim, g) == sorted([a, d])
    assert ok([{"op": "replace", "path": "members", "value": []}]) == 204
    assert members(scim, g) == []
    # pathless add of members (Okta) and a rename
    assert ok([{"op": "add", "value": {"members": [{"value": a}]}},
               {"op": "replace", "value": {"displayName": "Ops 2"}}]) == 204
    body = scim.get(f"/Groups/{g}").get_json()
    assert body["displayName"] == "Ops 2" and [m["value"] for m in body["members"]] == [a]


def test_unknown_member_id_is_invalid_value(scim):
    g = scim.group("X")["id"]
    assert_error(scim.patch(f"/Groups/{g}", [{"op": "add", "path": "members",
                                              "value": [{"value": "nope"}]}]), 400, "invalidValue")


def test_put_replaces_members_and_name(scim):
    a, b = users(scim, 2)
    g = scim.group("Old", [a])
    r = scim.put(f"/Groups/{g['id']}", {"schemas": [GROUP], "displayName": "New",
                                        "members": [{"value": b}]})
    assert r.status_code == 200
    assert r.get_json()["displayName"] == "New" and members(scim, g["id"]) == [b]


def test_excluded_members_and_etags(scim):
    a, = users(scim, 1)
    g = scim.group("E", [a])
    r = scim.get(f"/Groups/{g['id']}?excludedAttributes=members")
    assert "members" not in r.get_json()
    etag = r.headers["ETag"]
    assert scim.get(f"/Groups/{g['id']}", headers={"If-None-Match": etag}).status_code == 304
    assert scim.patch(f"/Groups/{g['id']}", [{"op": "remove", "path": "members"}]).status_code == 204
    assert_error(scim.patch(f"/Groups/{g['id']}", [{"op": "add", "path": "members",
                                                    "value": [{"value": a}]}],
                            headers={"If-Match": etag}), 412)


def test_delete_group_then_404_and_events(scim, factory):
    a, = users(scim, 1)
    g = scim.group("Gone", [a])
    assert scim.delete(f"/Groups/{g['id']}").status_code == 204
    assert_error(scim.get(f"/Groups/{g['id']}"), 404)
    assert scim.get(f"/Users/{a}").get_json()["groups"] == []
    actions = factory.run(lambda s: set(s.scalars(select(AuditEvent.action).where(
        AuditEvent.target_type == "group"))))
    assert {"group.created", "group.member_added", "group.member_removed",
            "group.deleted"} <= actions


def _membership(factory, account, scim_id):
    from connector.models import LinkedIdentity

    def run(session):
        org = orgs.require_org(session, account)
        uid = session.scalar(select(LinkedIdentity.user_id).where(
            LinkedIdentity.external_id == scim_id))
        m = session.scalar(select(Membership).where(Membership.organization_id == org.id,
                                                    Membership.user_id == uid))
        return (m.role, m.status) if m else None
    return factory.run(run)


def test_group_mapped_to_role_grants_and_revokes_it(scim, factory, app, monkeypatch):
    a, b = users(scim, 2)
    scim.group("Admins", [a])
    monkeypatch.setattr("connector.cli.CLIState.app", property(lambda self: app))
    r = CliRunner().invoke(main, ["scim", "group-map", "acme", "admins", "--role", "admin"])
    assert r.exit_code == 0, r.output
    assert _membership(factory, "acme", a) == ("admin", "active")  # existing members at once
    g = scim.get('/Groups?filter=displayName eq "Admins"').get_json()["Resources"][0]["id"]
    scim.patch(f"/Groups/{g}", [{"op": "add", "path": "members", "value": [{"value": b}]}])
    assert _membership(factory, "acme", b) == ("admin", "active")  # IdP push grants it
    scim.patch(f"/Groups/{g}", [{"op": "remove", "path": f'members[value eq "{b}"]'}])
    assert _membership(factory, "acme", b) == ("member", "active")


def test_group_mapped_to_sub_organization_through_the_api(scim, factory, client):
    factory.org("acme_eu", parent="acme")
    a, = users(scim, 1)
    g = scim.group("Europe")
    key = factory.api_key("acme")
    r = client.put("/api/v1/organizations/acme/scim-groups/Europe/mapping",
                   json={"sub_organization": "acme_eu", "role": "staff"},
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["sub_organization"] == "acme_eu"
    scim.patch(f"/Groups/{g['id']}", [{"op": "add", "path": "members", "value": [{"value": a}]}])
    assert _membership(factory, "acme_eu", a) == ("staff", "active")
    scim.patch(f"/Groups/{g['id']}", [{"op": "remove", "path": "members"}])
    assert _membership(factory, "acme_eu", a)[1] == "deactivated"


def test_groups_are_listed_with_their_mappings_in_api_and_cli(scim, factory, client, app,
                                                              monkeypatch):
    scim.group("Helpdesk")
    key = factory.api_key("acme")
    h = {"Authorization": f"Bearer {key}"}
    r = client.put("/api/v1/organizations/acme/scim-groups/helpdesk/mapping",
                   json={"role": "staff"}, headers=h)
    assert r.status_code == 200
    groups = client.get("/api/v1/organizations/acme/scim-groups", headers=h).get_json()["groups"]
    assert [(g["display_name"], g["role"]) for g in groups] == [("Helpdesk", "staff")]
    bad = client.put("/api/v1/organizations/acme/scim-groups/helpdesk/mapping",
                     json={"role": "owner"}, headers=h)
    assert bad.status_code == 400
    missing = client.put("/api/v1/organizations/acme/scim-groups/nope/mapping",
                         json={"role": "staff"}, headers=h)
    assert missing.status_code == 404
    monkeypatch.setattr("connector.cli.CLIState.app", property(lambda self: app))
    out = CliRunner().invoke(main, ["scim", "groups", "acme"])
    assert out.exit_code == 0 and "Helpdesk" in out.output and "staff" in out.output
