"""Test factories: each call runs in its own committed transaction."""
from __future__ import annotations

from connector import credentials, db, orgs
from connector.identity import Actor, Identity, Source
from connector.models import CredentialKind, Organization
from connector import pipeline

OPERATOR = Actor.operator()


class Factory:
    def __init__(self, app) -> None:
        self.app = app

    def _run(self, fn):
        with self.app.app_context():
            session = db.new_session()
            try:
                with session.begin():
                    return fn(session)
            finally:
                session.close()

    def org(self, account: str, name: str | None = None, *, parent: str | None = None,
            owner: str | None = None, seat_limit: int | None = None, **changes) -> Organization:
        def make(session):
            p = orgs.require_org(session, parent) if parent else None
            org = orgs.create_org(session, account, name or account.title(), parent=p,
                                  owner_email=owner, seat_limit=seat_limit, actor=OPERATOR)
            if changes:
                orgs.update_org(session, org, changes, actor=OPERATOR)
            return org
        return self._run(make)

    def api_key(self, account: str, permissions: list[str] | None = None,
                user_id: int | None = None) -> str:
        from connector.roles import OWNER_ONLY, PERMISSIONS
        perms = sorted(set(PERMISSIONS) - OWNER_ONLY) if permissions is None else permissions

        def make(session):
            _, secret = credentials.create(session, orgs.require_org(session, account),
                                           CredentialKind.API_KEY, name="test",
                                           permissions=perms, actor=OPERATOR, user_id=user_id)
            return secret
        return self._run(make)

    def provision(self, account: str, identities: list[Identity], *, source=Source.MANUAL,
                  actor: Actor = OPERATOR, **kwargs):
        return self._run(lambda s: pipeline.provision(
            s, orgs.require_org(s, account), identities, source=source, actor=actor, **kwargs))

    def member(self, account: str, email: str, role: str = "member", **fields) -> int:
        [r] = self.provision(account, [Identity(email=email, role=role, **fields)])
        assert r.ok, r
        return r.user_id

    def verify_domain(self, account: str, domain: str) -> None:
        from connector.db import utcnow
        from connector.models import OrganizationDomain

        def make(session):
            org = orgs.require_org(session, account)
            session.add(OrganizationDomain(organization_id=org.id, domain=domain,
                                           verification_token="t", verified_at=utcnow()))
        self._run(make)

    def run(self, fn):
        """Run ``fn(session)`` in a committed transaction and return its result."""
        return self._run(fn)
