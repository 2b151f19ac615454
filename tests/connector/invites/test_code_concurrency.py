"""Exact use counts and single-use links under concurrency: real threads, real transactions
(run it on PostgreSQL with CONNECTOR_TEST_DATABASE_URL; SQLite serializes writers, so it
holds there too)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from connector import db, orgs
from connector.identity import Actor
from connector.invites import codes
from connector.invites.common import JoinRefused
from connector.models import Membership


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_with_one_use_left_two_simultaneous_joins_give_exactly_one_success(app, factory, round_):
    factory.org("acme")
    code = factory.run(lambda s: codes.create_code(s, orgs.require_org(s, "acme"),
                                                   actor=Actor("cli"), max_uses=2))[1]
    factory.run(lambda s: setattr(codes.find_code(s, code), "uses", 1))  # one use left
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def join(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                with db.transaction() as session:
                    joined = codes.join_with_code(session, code, email=f"p{i}@example.test",
                                                  password="long enough pw")
                outcomes.append(joined.outcome)
            except JoinRefused as err:
                outcomes.append(err.code)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["joined", "used_up"]
    assert factory.run(lambda s: codes.find_code(s, code).uses) == 2
    members = factory.run(lambda s: s.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id == orgs.require_org(s, "acme").id)))
    assert members == 1  # the refused join left nothing behind


@pytest.mark.slow
def test_one_invitation_link_clicked_twice_at_once_creates_one_account(app, factory):
    from connector.invites import invitations
    from connector.models import OutboxMessage, User
    factory.org("acme")
    factory.run(lambda s: invitations.invite(s, orgs.require_org(s, "acme"), ["a@example.test"],
                                             actor=Actor("cli")))
    payload = factory.run(lambda s: s.scalar(select(OutboxMessage.payload)))
    token = payload["context"]["accept_url"].rsplit("/", 1)[1]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept() -> None:
        with app.app_context():
            barrier.wait()
            try:
                with db.transaction() as session:
                    outcomes.append(invitations.accept(session, token,
                                                       password="long enough pw").outcome)
            except JoinRefused as err:
                outcomes.append(err.code)

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["already_member", "joined"]
    assert factory.run(lambda s: s.scalar(select(func.count()).select_from(User).where(
        User.email == "a@example.test"))) == 1
