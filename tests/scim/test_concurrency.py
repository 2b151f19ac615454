"""Concurrency on PostgreSQL: real threads, each with its own test client and session."""
from __future__ import annotations

import threading

import pytest

from tests.conftest import TEST_DB_URL

from .conftest import USER, Scim

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not TEST_DB_URL.startswith("postgresql"),
    reason="needs PostgreSQL (CONNECTOR_TEST_DATABASE_URL=postgresql://...)")]


def _race(app, token, n, request):
    """Run ``request(scim, i)`` in n threads released together; return the responses."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(i):
        s = Scim(app.test_client(), token)
        barrier.wait()
        out[i] = request(s, i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_concurrent_patches_adding_different_members_all_land(scim, app):
    ids = [scim.user(f"c{i}@acme.test")["id"] for i in range(8)]
    gid = scim.group("Race")["id"]
    codes = _race(app, scim.token, 8, lambda s, i: s.patch(f"/Groups/{gid}", [
        {"op": "add", "path": "members", "value": [{"value": ids[i]}]}]).status_code)
    assert codes == [204] * 8
    members = scim.get(f"/Groups/{gid}").get_json()["members"]
    assert sorted(m["value"] for m in members) == sorted(ids)


def test_concurrent_add_and_remove_of_different_members(scim, app):
    ids = [scim.user(f"r{i}@acme.test")["id"] for i in range(6)]
    gid = scim.group("Mixed", ids[:3])["id"]

    def req(s, i):
        op = {"op": "remove", "path": f'members[value eq "{ids[i]}"]'} if i < 3 else \
            {"op": "add", "path": "members", "value": [{"value": ids[i]}]}
        return s.patch(f"/Groups/{gid}", [op]).status_code
    assert _race(app, scim.token, 6, req) == [204] * 6
    members = scim.get(f"/Groups/{gid}").get_json()["members"]
    assert sorted(m["value"] for m in members) == sorted(ids[3:])


def test_concurrent_posts_of_one_username_create_exactly_one(scim, app):
    codes = _race(app, scim.token, 6, lambda s, i: s.post("/Users", {
        "schemas": [USER], "userName": "Same@acme.test" if i % 2 else "same@ACME.test",
        "emails": [{"value": f"same{i}@acme.test", "primary": True}]}).status_code)
    assert sorted(codes) == [201] + [409] * 5
    assert scim.get("/Users").get_json()["totalResults"] == 1


def test_concurrent_posts_of_different_users_all_succeed(scim, app):
    codes = _race(app, scim.token, 8, lambda s, i: s.post("/Users", {
        "schemas": [USER], "userName": f"p{i}@acme.test"}).status_code)
    assert codes == [201] * 8
    assert scim.get("/Users").get_json()["totalResults"] == 8


def test_concurrent_creates_in_a_seat_limited_organization_hold_the_limit(scim, app, factory):
    from connector import orgs
    factory.run(lambda s: orgs.update_org(s, orgs.require_org(s, "acme"), {"seat_limit": 4},
                                          actor=orgs.Actor.operator()))
    # The owner holds one seat: three more fit.
    codes = _race(app, scim.token, 6, lambda s, i: s.post("/Users", {
        "schemas": [USER], "userName": f"seat{i}@acme.test"}).status_code)
    assert sorted(codes) == [201] * 3 + [403] * 3, codes
