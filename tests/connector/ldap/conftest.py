"""Fixtures for directory sync: the shared slapd, a private subtree, and a configured source."""
from __future__ import annotations

import pytest

from connector import db, orgs
from connector.identity import Actor
from connector.ldap import sources, sync
from connector.ldap.models import LdapRun
from connector.models import LinkedIdentity, Membership, User
from tests import ldap_server as L

OPERATOR = Actor.operator()


def pytest_collection_modifyitems(items):
    if L.slapd_binary() is None:
        skip = pytest.mark.skip(reason="slapd is not installed (Debian packages slapd, ldap-utils)")
        for item in items:
            if "slapd" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def slapd():
    return L.get_server()


@pytest.fixture
def tree(slapd):
    return L.Tree(slapd)


class Harness:
    """Drive one organization's source: configure, sync, inspect members."""

    def __init__(self, app, factory, slapd, tree, account: str = "acme") -> None:
        self.app, self.factory, self.slapd, self.tree = app, factory, slapd, tree
        self.account = account
        factory.org(account, owner=f"owner@{account}.example")

    def add_source(self, **overrides) -> int:
        data = {"name": "corp", "urls": [self.slapd.url], "start_tls": True,
                "ca_file": self.slapd.ca_file, "bind_dn": L.READER_DN,
                "base_dn": self.tree.people, "preset": "openldap", **overrides}
        password = data.pop("bind_password", L.READER_PW)
        self.source_id = self.factory.run(lambda s: sources.add_source(
            s, orgs.require_org(s, self.account), data, actor=OPERATOR, password=password).id)
        return self.source_id

    def update(self, **changes) -> None:
        def change(s):
            org = orgs.require_org(s, self.account)
            sources.update_source(s, org, sources.require_source(s, org, self.source_id), changes,
                                  actor=OPERATOR)
        self.factory.run(change)

    def sync(self, *, full: bool = False, dry_run: bool = False, confirm: bool = False) -> LdapRun:
        def queue(s):
            src = sources.require_source(s, orgs.require_org(s, self.account), self.source_id)
            return sync.queue_run(s, src, full=full, dry_run=dry_run,
                                  confirm_deactivations=confirm, actor=OPERATOR).id
        run_id = self.factory.run(queue)
        with self.app.app_context():
            return sync.execute(run_id)

    def members(self) -> dict[str, dict]:
        """username -> {user_id, status, role, email, groups} of the organization."""
        def load(s):
            from connector.models import Group, GroupMember
            org = orgs.require_org(s, self.account)
            out = {}
            for m, u in s.execute(db_select_members(org.id)):
                groups = sorted(s.scalars(
                    __import__("sqlalchemy").select(Group.display_name)
                    .join(GroupMember, GroupMember.group_id == Group.id)
                    .where(GroupMember.user_id == u.id, Group.organization_id == org.id)))
                out[u.username or u.email] = {"user_id": u.id, "status": m.status,
                                              "role": m.role, "email": u.email,
                                              "given_name": u.given_name, "groups": groups}
            return out
        return self.factory.run(load)

    def links(self) -> dict[str, int]:
        from sqlalchemy import select
        return dict(self.factory.run(lambda s: s.execute(select(
            LinkedIdentity.external_id, LinkedIdentity.user_id).where(
            LinkedIdentity.connection == f"ldap:{self.source_id}")).all()))


def db_select_members(org_id: int):
    from sqlalchemy import select
    return select(Membership, User).join(User, User.id == Membership.user_id).where(
        Membership.organization_id == org_id, Membership.role != "owner",
        Membership.status != "removed")


@pytest.fixture
def ldap(app, factory, slapd, tree):
    return Harness(app, factory, slapd, tree)


__all__ = ["Harness", "db"]
