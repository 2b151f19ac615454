"""Real concurrent transactions on PostgreSQL: constraints, not check-then-insert, hold."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from connector import db, orgs, pipeline
from connector.errors import Conflict
from connector.identity import Actor, Identity, Outcome, Source
from connector.models import Membership, Organization, User
from tests.conftest import TEST_DB_URL

pytestmark = pytest.mark.skipif(not TEST_DB_URL.startswith("postgresql"),
                                reason="concurrency is proven on PostgreSQL "
                                       "(set CONNECTOR_TEST_DATABASE_URL)")
OPERATOR = Actor.operator()


def race(app, *jobs):
    """Run each job(session) in its own thread and transaction, released together."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        with app.app_context():
            session = db.new_session()
            try:
                barrier.wait()
                with session.begin():
                    results[i] = job(session)
            except Exception as exc:  # collected and asserted by the test
                results[i] = exc
            finally:
                session.close()
    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _provision(account, ident, source, connection=None):
    return lambda s: pipeline.provision(s, orgs.require_org(s, account), [ident], source=source,
                                        actor=OPERATOR, connection=connection)[0]


@pytest.mark.postgres
def test_two_sources_racing_for_one_person_make_one_user(app, factory):
    factory.org("acme")
    factory.org("acme_eu", parent="acme")
    factory.org("acme_us", parent="acme")
    for i in range(8):
        email = f"p{i}@acme.com"
        results = race(app,
                       _provision("acme_eu", Identity(email=email), Source.CSV),
                       _provision("acme_us", Identity(email=email, external_id=f"x{i}"),
                                  Source.SCIM, "scim:us"))
        assert all(getattr(r, "ok", False) for r in results), results
        assert {r.user_id for r in results} and len({r.user_id for r in results}) == 1
    assert factory.run(lambda s: s.scalar(select(func.count()).select_from(User))) == 8
    assert factory.run(lambda s: s.scalar(select(func.count()).select_from(Membership))) == 16


@pytest.mark.postgres
def test_seat_limit_holds_under_concurrent_joins(app, factory):
    factory.org("acme", seat_limit=3)
    jobs = [_provision("acme", Identity(email=f"j{i}@acme.com"), Source.INVITE_CODE)
            for i in range(6)]
    results = race(app, *jobs)
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["created"] * 3 + ["rejected"] * 3
    assert factory.run(lambda s: orgs.seats_used(s, orgs.require_org(s, "acme"))) == 3


@pytest.mark.postgres
def test_concurrent_creation_of_one_account_gives_one_organization(app, factory):
    results = race(app, *[lambda s: orgs.create_org(s, "same", "Same", actor=OPERATOR)] * 4)
    assert sum(isinstance(r, Organization) for r in results) == 1
    assert all(isinstance(r, Conflict) and r.code == "account_taken"
               for r in results if not isinstance(r, Organization))


@pytest.mark.postgres
def test_last_owner_rule_holds_when_two_owners_demote_each_other(app, factory):
    factory.org("acme", owner="a@acme.com")
    b = factory.member("acme", "b@acme.com", role="owner")
    a = factory.run(lambda s: s.scalar(select(User.id).where(User.email == "a@acme.com")))
    results = race(app,
                   lambda s: pipeline.set_role(s, orgs.require_org(s, "acme"), a, "admin", actor=OPERATOR),
                   lambda s: pipeline.set_role(s, orgs.require_org(s, "acme"), b, "admin", actor=OPERATOR))
    assert sum(isinstance(r, Conflict) for r in results) == 1
    owners = factory.run(lambda s: s.scalar(select(func.count()).select_from(Membership).where(
        Membership.role == "owner")))
    assert owners == 1
