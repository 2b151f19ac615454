"""Admin pages: permission checks, and writes that go through the core services."""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from connector import db
from connector.models import Credential, Membership, Organization, OutboxMessage
from tests.console.helpers import csrf, post, seed, sign_in

ADMIN_PAGES = ["members", "api-keys", "audit", "settings", "audit.csv"]


def _membership(app, account, user_id):
    with app.app_context():
        org = db.session().scalar(select(Organization).where(Organization.account == account))
        return db.session().scalar(select(Membership).where(
            Membership.organization_id == org.id, Membership.user_id == user_id))


def test_plain_member_sees_overview_but_no_admin_page_or_link(app, client, factory):
    seed(factory)
    sign_in(client, "member@acme.test")
    html = client.get("/orgs/acme").get_data(True)
    assert "You are <strong>member</strong>" in html
    for page in ADMIN_PAGES:
        assert f'/orgs/acme/{page}"' not in html
        assert client.get(f"/orgs/acme/{page}").status_code == 403
    assert "seats used" not in html


def test_another_tenants_organization_looks_missing(app, client, factory):
    seed(factory)
    factory.org("other")
    sign_in(client, "owner@acme.test")
    assert client.get("/orgs/other").status_code == 404
    assert client.get("/orgs/other/members").status_code == 404


def test_overview_shows_seats_sources_and_a_chart(app, client, factory):
    seed(factory)
    factory.run(lambda s: setattr(s.scalar(select(Organization)), "seat_limit", 10))
    sign_in(client, "admin@acme.test")
    html = client.get("/orgs/acme").get_data(True)
    assert "4 / 10" in html
    assert "<svg" in html and "Members by source" in html and "manual" in html


def test_staff_reads_members_but_has_no_member_actions(app, client, factory):
    seed(factory)
    sign_in(client, "staff@acme.test")
    html = client.get("/orgs/acme/members").get_data(True)
    assert "member@acme.test" in html
    assert "Deactivate" not in html and "Remove" not in html and "Add a member" not in html
    r = post(client, "/orgs/acme/members/1/remove", page="/orgs/acme/members")
    assert r.status_code == 403


def test_admin_filters_changes_role_deactivates_and_removes(app, client, factory):
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    html = client.get("/orgs/acme/members?role=staff").get_data(True)
    assert "staff@acme.test" in html and "member@acme.test" not in html
    page = "/orgs/acme/members"
    post(client, f"/orgs/acme/members/{ids['member']}/role", {"role": "staff"}, page=page)
    assert _membership(app, "acme", ids["member"]).role == "staff"
    post(client, f"/orgs/acme/members/{ids['member']}/status", {"status": "deactivated"},
         page=page)
    assert _membership(app, "acme", ids["member"]).status == "deactivated"
    post(client, f"/orgs/acme/members/{ids['member']}/remove", page=page)
    assert _membership(app, "acme", ids["member"]) is None


def test_admin_cannot_grant_owner_or_touch_the_owner(app, client, factory):
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    page = "/orgs/acme/members"
    r = post(client, f"/orgs/acme/members/{ids['member']}/role", {"role": "owner"}, page=page)
    assert "You cannot grant the owner role." in client.get(r.headers["Location"]).get_data(True)
    post(client, f"/orgs/acme/members/{ids['owner']}/remove", page=page)
    assert _membership(app, "acme", ids["owner"]) is not None


def test_bulk_deactivate_is_all_or_nothing(app, client, factory):
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    html = client.get("/orgs/acme/members").get_data(True)
    # Including the owner makes the whole batch fail: nobody changes.
    client.post("/orgs/acme/members/bulk", data={
        "csrf_token": csrf(html), "action": "deactivate",
        "user_id": [ids["member"], ids["staff"], ids["owner"]]})
    assert _membership(app, "acme", ids["member"]).status == "active"
    client.post("/orgs/acme/members/bulk", data={
        "csrf_token": csrf(html), "action": "deactivate",
        "user_id": [ids["member"], ids["staff"]]})
    assert _membership(app, "acme", ids["member"]).status == "deactivated"
    assert _membership(app, "acme", ids["staff"]).status == "deactivated"


def test_reset_password_emails_a_member_with_an_address(app, client, factory):
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    post(client, f"/orgs/acme/members/{ids['member']}/reset-password", page="/orgs/acme/members")
    with app.app_context():
        msg = db.session().scalar(select(OutboxMessage))
    assert msg.payload["to"] == "member@acme.test"
    assert "/password/reset/" in msg.payload["context"]["reset_url"]


def test_reset_password_of_generated_account_shows_a_temporary_password_once(app, client,
                                                                              factory):
    from connector.identity import Identity
    seed(factory)
    [r] = factory.provision("acme", [Identity(username="pupil7", password="first-pw-123")])
    sign_in(client, "admin@acme.test")
    resp = post(client, f"/orgs/acme/members/{r.user_id}/reset-password",
                page="/orgs/acme/members")
    html = resp.get_data(True)
    temp = re.search(r'id="temp-pw" class="secret" readonly value="([^"]+)"', html).group(1)
    fresh = app.test_client()
    assert sign_in(fresh, "pupil7", temp).status_code == 303
    assert "/password/change" in fresh.get("/orgs/acme").headers["Location"]


def test_suborganization_create_and_move_respect_the_tree(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    page = "/orgs/acme/suborganizations"
    post(client, page, {"account": "acme_eu", "name": "Europe", "parent": "acme"})
    post(client, page, {"account": "acme_fr", "name": "France", "parent": "acme"})
    post(client, page + "/move", {"org": "acme_fr", "parent": "acme_eu"}, page=page)
    factory.org("other")
    r = post(client, page, {"account": "sneaky", "name": "x", "parent": "other"})
    html = client.get(r.headers["Location"]).get_data(True)
    assert "Choose an organization inside this one." in html
    with app.app_context():
        fr = db.session().scalar(select(Organization).where(Organization.account == "acme_fr"))
        assert fr.depth == 3
        assert db.session().scalar(select(Organization).where(
            Organization.account == "sneaky")) is None
    assert "France" in html and "level 3" in html


def test_roles_matrix_edits_non_owner_roles_only(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    html = client.get("/orgs/acme/roles").get_data(True)
    assert 'name="perm_owner"' not in html and 'name="perm_staff"' in html
    client.post("/orgs/acme/roles", data={"csrf_token": csrf(html),
                                          "perm_staff": ["org.view", "members.view",
                                                         "members.manage"],
                                          "perm_member": ["org.view"],
                                          "perm_admin": ["org.view", "members.view",
                                                         "roles.manage", "org.manage"]})
    staff = app.test_client()
    sign_in(staff, "staff@acme.test")
    assert "Deactivate" in staff.get("/orgs/acme/members").get_data(True)


def test_api_key_is_shown_once_then_works_and_can_be_revoked(app, client, factory):
    seed(factory)
    sign_in(client, "admin@acme.test")
    html = post(client, "/orgs/acme/api-keys", {"name": "hr", "permissions": ["members.view"]}
                ).get_data(True)
    key = re.search(r'id="new-key" class="secret" readonly value="([^"]+)"', html).group(1)
    assert key not in client.get("/orgs/acme/api-keys").get_data(True)
    api = app.test_client()
    ok = api.get("/api/v1/organizations/acme/members", headers={"Authorization": "Bearer " + key})
    assert ok.status_code == 200
    with app.app_context():
        kid = db.session().scalar(select(Credential.id).where(Credential.name == "hr"))
    post(client, f"/orgs/acme/api-keys/{kid}/revoke", page="/orgs/acme/api-keys")
    gone = api.get("/api/v1/organizations/acme/members", headers={"Authorization": "Bearer " + key})
    assert gone.status_code == 401


def test_audit_log_filters_and_exports_csv(app, client, factory):
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    post(client, f"/orgs/acme/members/{ids['member']}/role", {"role": "staff"},
         page="/orgs/acme/members")
    html = client.get("/orgs/acme/audit?action=member.role_changed").get_data(True)
    table = html[html.index("<tbody>"):]
    assert "<td>member.role_changed</td>" in table and "<td>member.joined</td>" not in table
    body = client.get("/orgs/acme/audit.csv?action=member.role_changed").get_data(True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["action"] for r in rows] == ["member.role_changed"]
    assert rows[0]["actor"] == f"user:{ids['admin']}"
    assert client.get("/orgs/acme/audit?since=2999-01-01").get_data(True).count("<tr>") == 2


def test_settings_save_and_owner_only_actions(app, client, factory):
    ids = seed(factory)
    sign_in(client, "admin@acme.test")
    html = client.get("/orgs/acme/settings").get_data(True)
    assert "Transfer ownership" not in html and "Delete this organization" not in html
    post(client, "/orgs/acme/settings", {"name": "Acme Inc", "seat_limit": "25",
                                         "default_role": "member", "join_policy": "closed",
                                         "allowed_domains": "acme.test\n@Acme.org",
                                         "deprovision_policy": "remove"})
    with app.app_context():
        org = db.session().scalar(select(Organization).where(Organization.account == "acme"))
        assert (org.name, org.seat_limit, org.deprovision_policy) == ("Acme Inc", 25, "remove")
        assert org.settings["allowed_domains"] == ["acme.org", "acme.test"]
    assert post(client, "/orgs/acme/delete", {"confirm_account": "acme"},
                page="/orgs/acme/settings").status_code == 403
    owner = app.test_client()
    sign_in(owner, "owner@acme.test")
    post(owner, "/orgs/acme/transfer", {"user_id": ids["admin"]}, page="/orgs/acme/settings")
    assert _membership(app, "acme", ids["admin"]).role == "owner"
    assert _membership(app, "acme", ids["owner"]).role == "admin"
    r = post(client, "/orgs/acme/delete", {"confirm_account": "acme"}, page="/orgs/acme/settings")
    assert r.status_code == 303
    with app.app_context():
        org = db.session().scalar(select(Organization).where(Organization.account == "acme"))
        assert org.deleted_at is not None
