"""Users: the full core and enterprise schema, writes through the pipeline, uniqueness, ETags."""
from __future__ import annotations

from sqlalchemy import select

from connector import orgs
from connector.models import AuditEvent, LinkedIdentity, Membership, User
from connector.security import verify_password

from .conftest import ENTERPRISE, USER, assert_error

FULL = {
    "schemas": [USER, ENTERPRISE],
    "userName": "bjensen@example.com", "externalId": "ext-bjensen",
    "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen",
             "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.",
             "honorificSuffix": "III"},
    "displayName": "Babs Jensen", "nickName": "Babs", "title": "Tour Guide",
    "userType": "Employee", "preferredLanguage": "en-US", "locale": "en-US",
    "timezone": "America/Los_Angeles", "active": True, "password": "t1meMa$heen",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
               {"value": "babs@jensen.org", "type": "home"}],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work", "primary": True}],
    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza",
                   "locality": "Hollywood", "region": "CA", "postalCode": "91608",
                   "country": "USA", "primary": True}],
    ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal",
                 "division": "Theme Park", "department": "Tour Operations",
                 "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
}


def test_create_returns_the_full_resource_with_meta_and_location(scim):
    r = scim.post("/Users", FULL)
    assert r.status_code == 201 and r.mimetype == "application/scim+json"
    u = r.get_json()
    assert r.headers["Location"] == u["meta"]["location"].replace("http://localhost", "http://localhost")
    assert r.headers["ETag"] == u["meta"]["version"]
    for key in ("name", "displayName", "nickName", "title", "userType", "preferredLanguage",
                "locale", "timezone", "emails", "phoneNumbers", "addresses", "externalId",
                ENTERPRISE):
        assert u[key] == FULL[key], key
    assert "password" not in u
    assert set(u["schemas"]) == {USER, ENTERPRISE}
    assert u["groups"] == []
    meta = u["meta"]
    assert meta["resourceType"] == "User" and meta["created"] and meta["lastModified"]
    assert meta["location"].endswith(f"/scim/v2/Users/{u['id']}")
    assert scim.get(f"/Users/{u['id']}").get_json() == u


def test_create_goes_through_the_pipeline_and_audit(scim, factory):
    u = scim.user("Kim@Acme.test", emails=[{"value": "kim@acme.test", "primary": True}],
                  password="s3cret-pass!")

    def check(session):
        org = orgs.require_org(session, "acme")
        link = session.scalar(select(LinkedIdentity).where(
            LinkedIdentity.connection == f"scim:{org.id}", LinkedIdentity.external_id == u["id"]))
        user = session.get(User, link.user_id)
        m = session.scalar(select(Membership).where(Membership.user_id == user.id,
                                                    Membership.organization_id == org.id))
        actions = set(session.scalars(select(AuditEvent.action).where(
            AuditEvent.organization_id == org.id, AuditEvent.source == "scim")))
        return user, m, actions
    user, m, actions = factory.run(check)
    assert user.email == "kim@acme.test" and user.managed_by_source == "scim"
    assert verify_password(user.password_hash, "s3cret-pass!")
    assert m.status == "active" and m.source == "scim"
    assert {"user.created", "member.joined"} <= actions  # the link rides on user.created


def test_duplicate_username_is_409_uniqueness_case_insensitive(scim):
    scim.user("bjensen@example.com")
    assert_error(scim.post("/Users", {"schemas": [USER], "userName": "BJensen@Example.COM"}),
                 409, "uniqueness")


def test_duplicate_external_id_is_409_uniqueness(scim):
    scim.user("a@acme.test", externalId="E1")
    assert_error(scim.post("/Users", {"userName": "b@acme.test", "externalId": "E1"}),
                 409, "uniqueness")


def test_same_username_in_another_organization_is_fine(scim, factory, client):
    from .conftest import Scim, make_token
    scim.user("shared@x.test")
    factory.org("other")
    assert Scim(client, make_token(factory, "other")).post(
        "/Users", {"userName": "shared2@x.test"}).status_code == 201


def test_attribute_names_are_case_insensitive_on_input(scim):
    u = scim.post("/Users", {"schemas": [USER], "UserName": "case@acme.test",
                             "NAME": {"GivenName": "Ann"},
                             "Emails": [{"Value": "case@acme.test", "Primary": "true"}],
                             "ACTIVE": "True"}).get_json()
    assert u["userName"] == "case@acme.test" and u["name"] == {"givenName": "Ann"}
    assert u["emails"] == [{"value": "case@acme.test", "primary": True}] and u["active"] is True


def test_unknown_extension_attributes_are_kept(scim):
    ext = "urn:example:params:scim:schemas:extension:custom:2.0:User"
    u = scim.user("ext@acme.test", schemas=[USER, ext], **{ext: {"badge": "42"}})
    assert u[ext] == {"badge": "42"} and ext in u["schemas"]
    assert scim.get(f"/Users/{u['id']}").get_json()[ext] == {"badge": "42"}


def test_enterprise_manager_accepts_a_bare_id(scim):
    boss = scim.user("boss@acme.test")
    u = scim.user("emp@acme.test", **{ENTERPRISE: {"manager": boss["id"]}})
    assert u[ENTERPRISE]["manager"] == {"value": boss["id"]}


def test_put_replaces_and_ignores_read_only_attributes(scim):
    u = scim.user("put@acme.test", title="Old", nickName="N")
    body = {**u, "title": "New", "groups": [{"value": "nope"}], "id": "ignored"}
    del body["nickName"]
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status_code == 200
    out = r.get_json()
    assert out["title"] == "New" and "nickName" not in out and out["id"] == u["id"]
    assert out["meta"]["version"] != u["meta"]["version"]


def test_password_is_write_only(scim):
    u = scim.user("pw@acme.test", password="first-pass-1")
    assert "password" not in u
    listed = scim.get("/Users?attributes=password").get_json()["Resources"][0]
    assert "password" not in listed


def test_delete_then_404_and_gone_from_lists_and_groups(scim):
    u = scim.user("gone@acme.test")
    g = scim.group("Team", [u["id"]])
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    assert_error(scim.get(f"/Users/{u['id']}"), 404)
    assert_error(scim.delete(f"/Users/{u['id']}"), 404)
    assert scim.get("/Users").get_json()["totalResults"] == 0
    assert scim.get(f"/Groups/{g['id']}").get_json().get("members") == []
    # The userName is free again.
    assert scim.post("/Users", {"userName": "gone@acme.test"}).status_code == 201


def test_if_match_mismatch_is_412_and_match_succeeds(scim):
    u = scim.user("etag@acme.test")
    stale = 'W/"999"'
    assert_error(scim.put(f"/Users/{u['id']}", {**u, "title": "x"}, headers={"If-Match": stale}),
                 412)
    assert_error(scim.patch(f"/Users/{u['id']}", [{"op": "replace", "path": "title",
                                                   "value": "x"}], headers={"If-Match": stale}), 412)
    assert_error(scim.delete(f"/Users/{u['id']}", headers={"If-Match": stale}), 412)
    r = scim.patch(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "x"}],
                   headers={"If-Match": u["meta"]["version"]})
    assert r.status_code == 200


def test_if_none_match_current_version_is_304(scim):
    u = scim.user("inm@acme.test")
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": u["meta"]["version"]})
    assert r.status_code == 304 and not r.data
    assert scim.get(f"/Users/{u['id']}", headers={"If-None-Match": 'W/"0"'}).status_code == 200


def test_plain_application_json_is_accepted(scim):
    r = scim.client.post("/scim/v2/Users", json={"userName": "json@acme.test"},
                         headers={"Authorization": f"Bearer {scim.token}"})
    assert r.status_code == 201 and r.mimetype == "application/scim+json"


def test_bad_json_and_bad_values_are_scim_errors(scim):
    r = scim.client.post("/scim/v2/Users", data="{nope", content_type="application/scim+json",
                         headers={"Authorization": f"Bearer {scim.token}"})
    assert_error(r, 400, "invalidSyntax")
    assert_error(scim.post("/Users", {"schemas": [USER]}), 400, "invalidValue")
    assert_error(scim.post("/Users", {"userName": "a@acme.test", "active": "maybe"}), 400,
                 "invalidValue")
    assert_error(scim.post("/Users", {"userName": "b@acme.test", "emails": [
        {"value": "b@acme.test", "primary": True}, {"value": "c@acme.test", "primary": True}]}),
        400, "invalidValue")


def test_a_create_runs_a_fixed_small_number_of_statements(scim, app):
    """Issue 3: a SCIM create was 21 statements (two transactions); the budget keeps it lean."""
    from sqlalchemy import event

    from connector import db
    scim.user("warm@acme.test")
    seen: list[str] = []
    with app.app_context():
        engine = db.engine()
        sqlite = engine.dialect.name == "sqlite"
        listener = lambda _c, _cur, stmt, *a: seen.append(stmt.split()[0])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            scim.user("counted@acme.test", emails=[{"value": "counted@acme.test",
                                                     "primary": True}])
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    # One transaction (SQLite's one BEGIN IMMEDIATE); PostgreSQL keeps the pipeline's
    # savepoint pair, which retries a unique-constraint race.
    assert seen.count("BEGIN") == (1 if sqlite else 0)
    assert len(seen) <= (14 if sqlite else 15), seen
