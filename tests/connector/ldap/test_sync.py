"""Directory sync end to end against slapd: create, change, rename, disable, remove, groups,
the partial-read rule, the mass-deactivation stop, dry runs and incremental runs."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from connector import orgs
from connector.ldap.models import RunStatus
from connector.models import Membership, User
from tests import ldap_server as L


def test_initial_full_sync_creates_members_linked_on_entry_uuid(ldap):
    dns = ldap.tree.add_users(3)
    ldap.add_source()
    run = ldap.sync(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert run.counts["read"] == 3 and run.counts["created"] == 3
    members = ldap.members()
    assert set(members) == {"user000", "user001", "user002"}
    assert all(m["status"] == "active" and m["role"] == "member" for m in members.values())
    links = ldap.links()
    assert set(links) == {ldap.tree.entry_uuid(dn) for dn in dns}
    # A second run changes nothing.
    again = ldap.sync(full=True)
    assert again.counts["unchanged"] == 3 and again.counts["created"] == 0


def test_attribute_change_is_picked_up_by_an_incremental_run(ldap):
    dns = ldap.tree.add_users(3)
    ldap.add_source()
    ldap.sync(full=True)
    ldap.tree.modify(dns[1], givenName="Renamed", mail=f"new@{ldap.tree.domain}")
    run = ldap.sync()
    assert run.status == RunStatus.SUCCEEDED, run.message
    # Only entries changed at or after the watermark are read (same second: re-read, harmless).
    assert run.counts["updated"] == 1 and run.counts["created"] == 0
    m = ldap.members()["user001"]
    assert m["given_name"] == "Renamed" and m["email"] == f"new@{ldap.tree.domain}"


def test_rename_and_move_keep_the_same_user(ldap):
    [dn] = ldap.tree.add_users(1)
    ldap.tree.conn.add(f"ou=moved,{ldap.tree.people}", "organizationalUnit", {"ou": "moved"})
    ldap.add_source()
    ldap.sync(full=True)
    before = ldap.members()["user000"]["user_id"]
    ldap.tree.conn.modify_dn(dn, "uid=user000", new_superior=f"ou=moved,{ldap.tree.people}")
    run = ldap.sync(full=True)
    assert run.status == RunStatus.SUCCEEDED and run.counts["created"] == 0
    assert run.counts["deactivated"] == 0
    members = ldap.members()
    assert members["user000"]["user_id"] == before and members["user000"]["status"] == "active"
    assert len(ldap.links()) == 1


def test_disabled_entry_deactivates_the_membership_and_reenabling_restores_it(ldap):
    dns = ldap.tree.add_users(12)
    ldap.add_source()
    ldap.sync(full=True)
    ldap.tree.modify(dns[0], employeeType="disabled")
    run = ldap.sync()
    assert run.counts["deactivated"] == 1, run.counts
    assert ldap.members()["user000"]["status"] == "deactivated"
    ldap.tree.modify(dns[0], employeeType="staff")
    ldap.sync()
    assert ldap.members()["user000"]["status"] == "active"


def test_disabled_entries_never_seen_before_are_not_created(ldap):
    ldap.tree.add_user("ghost", employeeType="disabled")
    ldap.tree.add_users(2)
    ldap.add_source()
    run = ldap.sync(full=True)
    assert run.counts["skipped"] == 1 and "ghost" not in ldap.members()


def test_removed_entry_is_deprovisioned_by_a_full_run_only(ldap):
    dns = ldap.tree.add_users(12)
    ldap.add_source()
    ldap.sync(full=True)
    ldap.tree.conn.delete(dns[5])
    assert ldap.sync().counts["deactivated"] == 0  # incremental runs cannot see deletions
    assert ldap.members()["user005"]["status"] == "active"
    run = ldap.sync(full=True)
    assert run.status == RunStatus.SUCCEEDED and run.counts["deactivated"] == 1
    members = ldap.members()
    assert members["user005"]["status"] == "deactivated"
    assert sum(m["status"] == "active" for m in members.values()) == 11


def test_remove_policy_removes_the_membership(ldap):
    dns = ldap.tree.add_users(12)
    ldap.factory.run(lambda s: setattr(orgs.require_org(s, "acme"), "deprovision_policy", "remove"))
    ldap.add_source()
    ldap.sync(full=True)
    ldap.tree.conn.delete(dns[0])
    assert ldap.sync(full=True).counts["deactivated"] == 1
    assert "user000" not in ldap.members()


def test_group_membership_changes_and_role_mapping(ldap):
    alice, bob, carol = (ldap.tree.add_user(u) for u in ("alice", "bob", "carol"))
    # groupOfNames needs a member: the subtree's own DN keeps it valid when Alice leaves.
    admins = ldap.tree.add_group("Admins", [alice, ldap.tree.base])
    staff = ldap.tree.add_group("Staff", [bob])
    ldap.tree.add_group("Everyone", [admins, staff, carol])  # nested groupOfNames
    ldap.add_source(group_kind="groupOfNames", group_base=ldap.tree.groups,
                    group_roles={"admins": "admin", "Staff": "staff"})
    assert ldap.sync(full=True).status == RunStatus.SUCCEEDED
    m = ldap.members()
    assert (m["alice"]["role"], m["alice"]["groups"]) == ("admin", ["Admins", "Everyone"])
    assert (m["bob"]["role"], m["bob"]["groups"]) == ("staff", ["Everyone", "Staff"])
    assert (m["carol"]["role"], m["carol"]["groups"]) == ("member", ["Everyone"])
    # Alice leaves Admins, Carol joins Staff: groups and roles follow on the next full run.
    ldap.tree.remove_member(admins, alice)
    ldap.tree.add_member(staff, carol)
    assert ldap.sync(full=True).status == RunStatus.SUCCEEDED
    m = ldap.members()
    assert (m["alice"]["role"], m["alice"]["groups"]) == ("member", [])
    assert (m["carol"]["role"], m["carol"]["groups"]) == ("staff", ["Everyone", "Staff"])


def test_group_to_sub_organization_mapping(ldap):
    ldap.factory.org("acme_paris", parent="acme")
    alice = ldap.tree.add_user("alice")
    ldap.tree.add_user("bob")
    ldap.tree.add_group("Paris", [alice])
    ldap.add_source(group_kind="groupOfNames", group_base=ldap.tree.groups,
                    group_sub_orgs={"paris": "acme_paris"})
    assert ldap.sync(full=True).counts["created"] == 2
    assert set(ldap.members()) == {"bob"}
    rows = ldap.factory.run(lambda s: s.execute(select(User.username).join(
        Membership, Membership.user_id == User.id).where(
        Membership.organization_id == orgs.require_org(s, "acme_paris").id)).scalars().all())
    assert rows == ["alice"]


def test_partial_read_deprovisions_nobody_and_writes_nothing(ldap):
    dns = ldap.tree.add_users(20)
    ldap.add_source(page_size=5)
    ldap.sync(full=True)
    ldap.tree.conn.delete(dns[0])
    ldap.tree.modify(dns[1], givenName="Changed")
    # The limited account may page through 15 entries only: sizeLimitExceeded mid-read.
    ldap.update(bind_dn=L.LIMITED_DN, bind_password=L.LIMITED_PW)
    run = ldap.sync(full=True)
    assert run.status == RunStatus.FAILED and "sizeLimitExceeded" in run.message
    members = ldap.members()
    assert all(m["status"] == "active" for m in members.values()) and len(members) == 20
    assert members["user001"]["given_name"] != "Changed"
    # The watermark did not move: the next good run still sees the change.
    ldap.update(bind_dn=L.READER_DN, bind_password=L.READER_PW)
    good = ldap.sync(full=True)
    assert good.counts["deactivated"] == 1 and ldap.members()["user001"]["given_name"] == "Changed"


def test_unreachable_directory_fails_the_run_without_changes(ldap):
    ldap.tree.add_users(3)
    ldap.add_source()
    ldap.sync(full=True)
    ldap.update(urls=["ldap://127.0.0.1:1"])
    run = ldap.sync(full=True)
    assert run.status == RunStatus.FAILED and run.counts["deactivated"] == 0
    assert all(m["status"] == "active" for m in ldap.members().values())


def test_mass_deactivation_stops_and_asks_for_confirmation(ldap):
    dns = ldap.tree.add_users(20)
    ldap.add_source()
    ldap.sync(full=True)
    for dn in dns[:4]:  # 4 of 21 active members (owner included) = 19% > 10%
        ldap.tree.conn.delete(dn)
    run = ldap.sync(full=True)
    assert run.status == RunStatus.NEEDS_CONFIRMATION and "4 of 21" in run.message
    assert all(m["status"] == "active" for m in ldap.members().values())
    dry = ldap.sync(full=True, dry_run=True)
    assert dry.status == RunStatus.DRY_RUN and dry.counts["deactivated"] == 4
    assert dry.errors[0]["code"] == "needs_confirmation"
    done = ldap.sync(full=True, confirm=True)
    assert done.status == RunStatus.SUCCEEDED and done.counts["deactivated"] == 4
    assert sum(m["status"] == "deactivated" for m in ldap.members().values()) == 4


def test_threshold_is_configurable_per_source(ldap):
    dns = ldap.tree.add_users(10)
    ldap.add_source(max_deactivate_percent=50)
    ldap.sync(full=True)
    for dn in dns[:3]:
        ldap.tree.conn.delete(dn)
    assert ldap.sync(full=True).status == RunStatus.SUCCEEDED


def test_dry_run_reports_the_diff_and_writes_nothing(ldap):
    dns = ldap.tree.add_users(12)
    ldap.add_source()
    ldap.sync(full=True)
    ldap.tree.add_user("newbie")
    ldap.tree.modify(dns[0], givenName="Other")
    ldap.tree.conn.delete(dns[1])
    before = ldap.members()
    run = ldap.sync(full=True, dry_run=True)
    assert run.status == RunStatus.DRY_RUN
    c = run.counts
    assert (c["created"], c["updated"], c["deactivated"], c["unchanged"]) == (1, 1, 1, 10)
    assert ldap.members() == before


def test_rejected_entries_are_reported_with_their_dn(ldap):
    ldap.tree.add_users(2)
    bad = ldap.tree.add_user("bad", mail="not an email")
    ldap.add_source()
    run = ldap.sync(full=True)
    assert run.status == RunStatus.SUCCEEDED and run.counts["rejected"] == 1
    assert run.errors == [{"dn": bad, "code": "invalid_email",
                           "message": run.errors[0]["message"]}]


@pytest.mark.slow
def test_full_sync_of_10000_paged_entries(ldap):
    ldap.add_source(base_dn=L.BULK_BASE, page_size=1000)
    run = ldap.sync(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert run.counts["read"] == run.counts["created"] == 10_000


def test_a_referral_fails_the_run_and_deprovisions_nobody(ldap):
    dns = ldap.tree.add_users(12)
    ldap.add_source()
    ldap.sync(full=True)
    # People moved behind a referral: their entries are not read, so they must not count as gone.
    ldap.tree.conn.delete(dns[0])
    ldap.tree.conn.add(f"ou=elsewhere,{ldap.tree.people}", ["referral", "extensibleObject"],
                       {"ou": "elsewhere", "ref": "ldap://127.0.0.1:9/ou=people,dc=other,dc=test"})
    run = ldap.sync(full=True)
    assert run.status == RunStatus.FAILED and "referral" in run.message
    assert all(m["status"] == "active" for m in ldap.members().values())
