"""Organization rules from the seed documents: accounts, the tree, deletion, ownership."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connector import orgs, pipeline
from connector.errors import Conflict, Forbidden, InvalidInput
from connector.identity import Actor
from connector.models import AuditEvent, Membership, Organization, Role
from connector.roles import DEFAULT_PERMISSIONS

OPERATOR = Actor.operator()


def _count(factory, model) -> int:
    return factory.run(lambda s: s.scalar(select(func.count()).select_from(model)))


@pytest.mark.parametrize("account", ["A", "a", "has-dash", "x" * 37, "sp ace", "ünï", ""])
def test_invalid_account_is_refused_and_writes_nothing(factory, account):
    with pytest.raises(InvalidInput) as err:
        factory.org(account)
    assert err.value.code == "invalid_account"
    assert _count(factory, Organization) == 0


def test_reserved_account_is_refused(factory):
    with pytest.raises(InvalidInput) as err:
        factory.org("admin")
    assert err.value.code == "reserved_account"


def test_account_allows_lowercase_digits_underscore_2_to_36(factory):
    assert factory.org("ab").account == "ab"
    assert factory.org("a_1" + "x" * 33).depth == 1


def test_duplicate_account_conflicts(factory):
    factory.org("acme")
    with pytest.raises(Conflict) as err:
        factory.org("acme")
    assert err.value.code == "account_taken"


def test_deleted_account_is_never_reusable(factory):
    factory.org("acme")
    factory.run(lambda s: orgs.delete_org(s, orgs.require_org(s, "acme"), actor=OPERATOR))
    with pytest.raises(Conflict) as err:
        factory.org("acme")
    assert "deleted" in err.value.message and err.value.code == "account_taken"
    assert factory.run(lambda s: orgs.get_org(s, "acme")) is None


def test_creator_becomes_owner_with_builtin_roles(factory):
    org = factory.org("acme", owner="Boss@Acme.com")
    def check(s):
        m = s.scalar(select(Membership).where(Membership.organization_id == org.id))
        roles = {r.name: {p.permission for p in r.permissions}
                 for r in s.scalars(select(Role).where(Role.organization_id == org.id))}
        return m.role, m.user.email, roles
    role, email, roles = factory.run(check)
    assert (role, email) == ("owner", "boss@acme.com")
    assert roles == {k: set(v) for k, v in DEFAULT_PERMISSIONS.items()}


def test_tree_depth_is_at_most_four(factory):
    factory.org("l1")
    factory.org("l2", parent="l1")
    factory.org("l3", parent="l2")
    assert factory.org("l4", parent="l3").depth == 4
    with pytest.raises(InvalidInput) as err:
        factory.org("l5", parent="l4")
    assert err.value.code == "too_deep"


def test_move_carries_the_subtree(factory):
    factory.org("top")
    factory.org("aa", parent="top")
    factory.org("bb", parent="top")
    factory.org("aa1", parent="aa")
    factory.run(lambda s: orgs.move_org(s, orgs.require_org(s, "aa"), orgs.require_org(s, "bb"),
                                        actor=OPERATOR))
    got = factory.run(lambda s: {o.account: (o.parent.account if o.parent else None, o.depth)
                                 for o in orgs.list_orgs(s)})
    assert got == {"top": (None, 1), "bb": ("top", 2), "aa": ("bb", 3), "aa1": ("aa", 4)}
    # The moved subtree is reachable from its new ancestors.
    within = factory.run(lambda s: [o.account for o in orgs.subtree(s, orgs.require_org(s, "bb"))])
    assert sorted(within) == ["aa", "aa1", "bb"]


@pytest.mark.parametrize("target,code", [("aa1", "cycle"), ("aa", "cycle"), ("other", "other_hierarchy"),
                                         ("bb2", "too_deep")])
def test_move_refuses_cycles_other_hierarchies_and_depth(factory, target, code):
    factory.org("top")
    factory.org("aa", parent="top")
    factory.org("aa1", parent="aa")
    factory.org("bb", parent="top")
    factory.org("bb1", parent="bb")
    factory.org("bb2", parent="bb1")
    factory.org("other")
    with pytest.raises(InvalidInput) as err:
        factory.run(lambda s: orgs.move_org(s, orgs.require_org(s, "aa"),
                                            orgs.require_org(s, target), actor=OPERATOR))
    assert err.value.code == code
    assert factory.run(lambda s: orgs.require_org(s, "aa").parent.account) == "top"


def test_root_cannot_move(factory):
    factory.org("top")
    factory.org("other")
    with pytest.raises(InvalidInput) as err:
        factory.run(lambda s: orgs.move_org(s, orgs.require_org(s, "top"),
                                            orgs.require_org(s, "other"), actor=OPERATOR))
    assert err.value.code == "root_not_movable"


def test_only_the_owner_deletes(factory):
    factory.org("acme", owner="owner@acme.com")
    admin = factory.member("acme", "admin@acme.com", role="admin")
    owner = factory.run(lambda s: s.scalar(select(Membership.user_id).where(Membership.role == "owner")))
    with pytest.raises(Forbidden) as err:
        factory.run(lambda s: orgs.delete_org(s, orgs.require_org(s, "acme"),
                                              actor=Actor("user:x", 30, admin)))
    assert err.value.code == "owner_only"
    factory.run(lambda s: orgs.delete_org(s, orgs.require_org(s, "acme"),
                                          actor=Actor("user:o", 40, owner)))
    assert factory.run(lambda s: orgs.get_org(s, "acme")) is None


def test_delete_with_children_needs_cascade(factory):
    factory.org("top")
    factory.org("kid", parent="top")
    with pytest.raises(Conflict) as err:
        factory.run(lambda s: orgs.delete_org(s, orgs.require_org(s, "top"), actor=OPERATOR))
    assert err.value.code == "has_suborganizations"
    gone = factory.run(lambda s: orgs.delete_org(s, orgs.require_org(s, "top"), actor=OPERATOR,
                                                 cascade=True))
    assert sorted(gone) == ["kid", "top"]
    with pytest.raises(Conflict):
        factory.org("kid")


def test_access_reaches_sub_organizations(factory):
    factory.org("top")
    factory.org("kid", parent="top")
    factory.org("sibling")
    uid = factory.member("top", "a@x.io", role="admin")
    perms = factory.run(lambda s: (orgs.effective_permissions(s, orgs.require_org(s, "kid"), uid),
                                   orgs.effective_permissions(s, orgs.require_org(s, "sibling"), uid)))
    assert "members.manage" in perms[0] and perms[1] == frozenset()


def test_last_owner_cannot_be_removed_or_demoted(factory):
    factory.org("acme", owner="o@acme.com")
    owner = factory.run(lambda s: s.scalar(select(Membership.user_id).where(Membership.role == "owner")))
    for op in (lambda s, o: pipeline.remove_member(s, o, owner, actor=OPERATOR),
               lambda s, o: pipeline.set_role(s, o, owner, "admin", actor=OPERATOR),
               lambda s, o: pipeline.deprovision(s, o, [owner], actor=OPERATOR, source="manual")):
        with pytest.raises(Conflict) as err:
            factory.run(lambda s: op(s, orgs.require_org(s, "acme")))
        assert err.value.code == "last_owner"
    second = factory.member("acme", "o2@acme.com", role="owner")
    factory.run(lambda s: pipeline.set_role(s, orgs.require_org(s, "acme"), owner, "admin",
                                            actor=OPERATOR))
    roles = factory.run(lambda s: dict(s.execute(select(Membership.user_id, Membership.role)).all()))
    assert roles == {owner: "admin", second: "owner"}


def test_nobody_grants_a_role_above_their_own(factory):
    factory.org("acme", owner="o@acme.com")
    uid = factory.member("acme", "m@acme.com")
    admin = Actor("user:2", rank=30, user_id=None)
    with pytest.raises(Forbidden) as err:
        factory.run(lambda s: pipeline.set_role(s, orgs.require_org(s, "acme"), uid, "owner",
                                                actor=admin))
    assert err.value.code == "role_escalation"
    staff = Actor("user:3", rank=20)
    with pytest.raises(Forbidden):
        factory.run(lambda s: pipeline.set_role(s, orgs.require_org(s, "acme"), uid, "admin",
                                                actor=staff))
    factory.run(lambda s: pipeline.set_role(s, orgs.require_org(s, "acme"), uid, "admin",
                                            actor=admin))


def test_ownership_transfer_by_owner_only(factory):
    factory.org("acme", owner="o@acme.com")
    owner = factory.run(lambda s: s.scalar(select(Membership.user_id).where(Membership.role == "owner")))
    admin = factory.member("acme", "a@acme.com", role="admin")
    with pytest.raises(Forbidden):
        factory.run(lambda s: pipeline.transfer_ownership(
            s, orgs.require_org(s, "acme"), admin, actor=Actor("user:a", 30, admin)))
    factory.run(lambda s: pipeline.transfer_ownership(
        s, orgs.require_org(s, "acme"), admin, actor=Actor("user:o", 40, owner)))
    roles = factory.run(lambda s: dict(s.execute(select(Membership.user_id, Membership.role)).all()))
    assert roles == {owner: "admin", admin: "owner"}


def test_tuning_roles_never_touches_owner_or_owner_only_permissions(factory):
    from connector.roles import role_permissions, set_role_permissions
    org = factory.org("acme")
    factory.run(lambda s: set_role_permissions(s, orgs.require_org(s, "acme"), "staff",
                                               ["members.view", "imports.run"]))
    assert factory.run(lambda s: role_permissions(s, org.id)["staff"]) == {"members.view", "imports.run"}
    for role, perms, code in (("owner", [], "owner_role_fixed"),
                              ("admin", ["org.delete"], "owner_only_permission"),
                              ("staff", ["nope"], "unknown_permission"),
                              ("boss", [], "unknown_role")):
        with pytest.raises((Forbidden, InvalidInput)) as err:
            factory.run(lambda s: set_role_permissions(s, orgs.require_org(s, "acme"), role, perms))
        assert err.value.code == code


def test_one_admin_org_rule_is_off_by_default_and_enforced_when_on(app, factory):
    factory.org("one", owner="boss@x.io")
    factory.org("two")
    uid = factory.run(lambda s: s.scalar(select(Membership.user_id)))
    [r] = factory.provision("two", [__import__("connector.identity").identity.Identity(
        user_id=uid, role="admin")])
    assert r.ok
    factory.org("three")
    app.config["ONE_ADMIN_ORG_PER_USER"] = True
    from connector.identity import Identity, Reason
    [r] = factory.provision("three", [Identity(user_id=uid, role="admin")])
    assert r.reason is Reason.ADMIN_LIMIT
    [r] = factory.provision("three", [Identity(user_id=uid, role="member")])
    assert r.ok


def test_every_change_is_audited(factory):
    factory.org("acme", owner="o@acme.com")
    factory.org("kid", parent="acme")
    actions = factory.run(lambda s: sorted(s.scalars(select(AuditEvent.action)).all()))
    assert actions == ["member.joined", "org.created", "org.created", "user.created"]
