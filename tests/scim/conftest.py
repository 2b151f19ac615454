"""SCIM test helpers: an organization with a SCIM token and a client that sends it."""
from __future__ import annotations

import json

import pytest

from connector import credentials, orgs
from connector.identity import Actor
from connector.models import CredentialKind

OPERATOR = Actor.operator()
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """A test client speaking SCIM with one organization's token."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, body=None, headers=None, **kw):
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        data = json.dumps(body) if body is not None else None
        return self.client.open("/scim/v2" + path, method=method, data=data, headers=h,
                                content_type="application/scim+json", **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, ops, **kw):
        return self.call("PATCH", path, {"schemas": [PATCH], "Operations": ops}, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def user(self, user_name: str, **attrs) -> dict:
        r = self.post("/Users", {"schemas": [USER], "userName": user_name, **attrs})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def group(self, name: str, members: list[str] = (), **attrs) -> dict:
        r = self.post("/Groups", {"schemas": [GROUP], "displayName": name,
                                  "members": [{"value": m} for m in members], **attrs})
        assert r.status_code == 201, r.get_json()
        return r.get_json()


def make_token(factory, account: str) -> str:
    def make(session):
        _, secret = credentials.create(session, orgs.require_org(session, account),
                                       CredentialKind.SCIM_TOKEN, name="idp", actor=OPERATOR)
        return secret
    return factory.run(make)


@pytest.fixture
def scim(factory, client) -> Scim:
    factory.org("acme", owner="owner@acme.test")
    return Scim(client, make_token(factory, "acme"))


def assert_error(resp, status: int, scim_type: str | None = None) -> dict:
    body = resp.get_json(force=True)
    assert resp.status_code == status, body
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    if scim_type:
        assert body.get("scimType") == scim_type, body
    assert "Traceback" not in json.dumps(body)
    return body
