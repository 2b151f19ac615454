"""The per-organization SCIM request log behind the console's "recent requests"."""
from __future__ import annotations

from sqlalchemy import func, select

from scim import requestlog
from scim.models import ScimRequest
from tests.scim.conftest import Scim, make_token


def test_every_tokened_request_is_logged_with_status_and_error_type(scim, factory):
    scim.user("ann@acme.test")
    scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": "ANN@acme.test"})  # duplicate: 409 uniqueness
    rows = factory.run(lambda s: [(r.method, r.path, r.status, r.scim_type)
                                  for r in s.scalars(select(ScimRequest).order_by(ScimRequest.id))])
    assert rows == [("POST", "/scim/v2/Users", 201, None),
                    ("POST", "/scim/v2/Users", 409, "uniqueness")]


def test_each_organization_sees_only_its_own_requests(scim, factory, client):
    factory.org("globex")
    other = Scim(client, make_token(factory, "globex"))
    scim.get("/Users")
    other.get("/Groups")
    by_org = factory.run(lambda s: sorted(s.execute(select(
        ScimRequest.organization_id, ScimRequest.path)).all()))
    assert len({org for org, _ in by_org}) == 2 and len(by_org) == 2


def test_the_log_keeps_only_the_newest_rows(scim, factory, monkeypatch):
    monkeypatch.setattr(requestlog, "KEEP", 3)
    monkeypatch.setattr(requestlog, "PRUNE_EVERY", 1)
    for _ in range(6):
        scim.get("/Users")
    assert factory.run(lambda s: s.scalar(select(func.count()).select_from(ScimRequest))) <= 4
