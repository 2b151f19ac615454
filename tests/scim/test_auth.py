"""Tokens: bearer auth, 401 in the SCIM error schema, tenant isolation, CLI and admin API."""
from __future__ import annotations

from click.testing import CliRunner

from connector import credentials, orgs
from connector.cli import main
from connector.models import Credential, CredentialKind

from .conftest import USER, Scim, assert_error, make_token


def test_missing_token_is_401_in_scim_error_schema(client, factory):
    factory.org("acme")
    r = client.get("/scim/v2/Users")
    assert_error(r, 401)
    assert r.mimetype == "application/scim+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_token_is_401(client, factory):
    factory.org("acme")
    assert_error(Scim(client, "scim_not-a-real-token").get("/Users"), 401)


def test_revoked_token_is_401(scim, factory):
    assert scim.get("/Users").status_code == 200

    def revoke(session):
        org = orgs.require_org(session, "acme")
        [cred] = credentials.list_credentials(session, org, CredentialKind.SCIM_TOKEN)
        credentials.revoke(session, org, CredentialKind.SCIM_TOKEN, cred.id,
                           actor=credentials.Actor.operator())
    factory.run(revoke)
    assert_error(scim.get("/Users"), 401)


def test_api_key_is_not_a_scim_token(client, factory):
    factory.org("acme")
    key = factory.api_key("acme")
    assert_error(Scim(client, key).get("/Users"), 401)


def test_token_records_last_use_and_is_stored_hashed(scim, factory):
    scim.get("/Users")
    cred = factory.run(lambda s: s.query(Credential).filter_by(kind="scim_token").one())
    assert cred.last_used_at is not None
    assert scim.token not in (cred.token_hash, cred.hint, str(cred.data))


def test_other_organizations_ids_answer_404(scim, factory, client):
    factory.org("other")
    other = Scim(client, make_token(factory, "other"))
    u = other.user("eve@other.test")
    g = other.group("Other staff", [u["id"]])
    assert_error(scim.get(f"/Users/{u['id']}"), 404)
    assert_error(scim.get(f"/Groups/{g['id']}"), 404)
    assert_error(scim.patch(f"/Users/{u['id']}", [{"op": "replace", "path": "active",
                                                   "value": False}]), 404)
    assert_error(scim.delete(f"/Groups/{g['id']}"), 404)
    assert scim.get("/Users").get_json()["totalResults"] == 0
    # Nor can a group of ours take their user as a member.
    assert_error(scim.post("/Groups", {"displayName": "x", "members": [{"value": u["id"]}]}),
                 400, "invalidValue")
    assert other.get(f"/Users/{u['id']}").status_code == 200


def test_cli_prints_token_alone_on_last_line_and_it_works(app, factory, client, monkeypatch):
    factory.org("acme")
    monkeypatch.setattr("connector.cli.CLIState.app", property(lambda self: app))
    runner = CliRunner()
    r = runner.invoke(main, ["scim-token", "create", "acme", "--name", "entra"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("scim_") and " " not in token
    assert Scim(client, token).get("/Users").status_code == 200
    listed = runner.invoke(main, ["scim-token", "list", "acme", "--json"])
    assert token not in listed.output and "entra" in listed.output
    token_id = __import__("json").loads(listed.output)[0]["id"]
    assert runner.invoke(main, ["scim-token", "revoke", "acme", str(token_id)]).exit_code == 0
    assert Scim(client, token).get("/Users").status_code == 401
    bad = runner.invoke(main, ["scim-token", "create", "nope"])
    assert bad.exit_code == 1 and "error:" in bad.output


def test_admin_api_creates_lists_and_revokes_scim_tokens(client, factory):
    factory.org("acme")
    key = factory.api_key("acme")
    h = {"Authorization": f"Bearer {key}"}
    r = client.post("/api/v1/organizations/acme/scim-tokens", json={"name": "okta"}, headers=h)
    assert r.status_code == 201
    token = r.get_json()["token"]
    s = Scim(client, token)
    assert s.post("/Users", {"schemas": [USER], "userName": "a@acme.test"}).status_code == 201
    listed = client.get("/api/v1/organizations/acme/scim-tokens", headers=h).get_json()
    assert [t["name"] for t in listed["scim_tokens"]] == ["okta"]
    assert "token" not in listed["scim_tokens"][0]
    tid = listed["scim_tokens"][0]["id"]
    assert client.delete(f"/api/v1/organizations/acme/scim-tokens/{tid}",
                         headers=h).status_code == 204
    assert s.get("/Users").status_code == 401


def test_admin_api_scim_routes_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/organizations/{account}/scim-tokens"]
    assert "put" in paths["/organizations/{account}/scim-groups/{group}/mapping"]
