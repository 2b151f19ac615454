"""Directory sources through the admin API, the CLI and the scheduler."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from connector.db import utcnow
from connector.ldap import scheduler
from connector.ldap.models import LdapRun, LdapSource, RunStatus
from tests import ldap_server as L


def _source_body(slapd, tree, **kw):
    return {"name": "corp", "urls": [slapd.url], "start_tls": True, "ca_file": slapd.ca_file,
            "bind_dn": L.READER_DN, "bind_password": L.READER_PW, "base_dn": tree.people, **kw}


def test_api_manages_sources_and_never_returns_the_password(app, client, factory, slapd, tree):
    factory.org("acme")
    tree.add_users(2)
    key = factory.api_key("acme")
    h = {"Authorization": f"Bearer {key}"}
    base = "/api/v1/organizations/acme/ldap-sources"
    r = client.post(base, json=_source_body(slapd, tree), headers=h)
    assert r.status_code == 201, r.get_json()
    src = r.get_json()
    assert src["has_bind_password"] and "bind_password" not in src
    assert L.READER_PW not in r.get_data(as_text=True)
    sealed = factory.run(lambda s: s.scalar(select(LdapSource.bind_password_sealed)))
    assert sealed.startswith("fernet:") and L.READER_PW not in sealed  # encrypted at rest
    assert client.post(base, json=_source_body(slapd, tree), headers=h).status_code == 409
    bad = client.post(base, json=_source_body(slapd, tree, name="x", user_filter="(uid=*"),
                      headers=h)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "ldap_invalid_filter"

    tested = client.post(f"{base}/{src['id']}/test", headers=h).get_json()
    assert tested["ok"] and tested["tls"] and len(tested["sample"]) == 2
    dry = client.post(f"{base}/{src['id']}/sync", json={"dry_run": True, "full": True},
                      headers=h)
    assert dry.status_code == 200 and dry.get_json()["status"] == "dry_run"
    assert dry.get_json()["counts"]["created"] == 2
    queued = client.post(f"{base}/{src['id']}/sync", json={"full": True}, headers=h)
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    assert scheduler.run_due(app) >= 1
    run = client.get(f"{base}/{src['id']}/runs/{queued.get_json()['id']}", headers=h).get_json()
    assert run["status"] == "succeeded" and run["counts"]["created"] == 2
    runs = client.get(f"{base}/{src['id']}/runs", headers=h).get_json()["runs"]
    assert [r["status"] for r in runs][:2] == ["succeeded", "dry_run"]
    patched = client.patch(f"{base}/{src['id']}", json={"interval_minutes": 0}, headers=h)
    assert patched.get_json()["interval_minutes"] == 0
    assert client.delete(f"{base}/{src['id']}", headers=h).status_code == 204
    assert client.get(f"{base}/{src['id']}", headers=h).status_code == 404


def test_api_sources_are_tenant_scoped_and_need_ldap_manage(client, factory, slapd, tree):
    factory.org("acme")
    factory.org("globex")
    own = factory.api_key("acme")
    weak = factory.api_key("acme", permissions=["org.view"])
    other = factory.api_key("globex")
    r = client.post("/api/v1/organizations/acme/ldap-sources", json=_source_body(slapd, tree),
                    headers={"Authorization": f"Bearer {own}"})
    sid = r.get_json()["id"]
    url = f"/api/v1/organizations/acme/ldap-sources/{sid}"
    assert client.get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert client.get(url, headers={"Authorization": f"Bearer {weak}"}).status_code == 403
    assert client.post(url + "/sync", json={}, headers={
        "Authorization": f"Bearer {weak}"}).status_code == 403


def test_scheduler_runs_due_sources_by_interval(app, factory, slapd, tree):
    from connector import orgs
    from connector.identity import Actor
    from connector.ldap import sources
    factory.org("acme")
    tree.add_users(2)
    body = _source_body(slapd, tree, interval_minutes=30)
    pw = body.pop("bind_password")
    sid = factory.run(lambda s: sources.add_source(s, orgs.require_org(s, "acme"), body,
                                                   actor=Actor.operator(), password=pw).id)
    assert scheduler.run_due(app) == 1  # never ran: due, and full (no full run yet)
    assert scheduler.run_due(app) == 0  # interval not passed
    runs = factory.run(lambda s: [(r.full, r.status) for r in s.scalars(
        select(LdapRun).where(LdapRun.source_id == sid))])
    assert runs == [(True, RunStatus.SUCCEEDED)]

    def age(s):
        src = s.get(LdapSource, sid)
        src.last_run_at = utcnow() - timedelta(minutes=31)
    factory.run(age)
    assert scheduler.run_due(app) == 1
    last = factory.run(lambda s: s.scalars(select(LdapRun).where(LdapRun.source_id == sid)
                                           .order_by(LdapRun.id.desc())).first().full)
    assert last is False  # incremental until LDAP_FULL_SYNC_HOURS has passed




def test_cli_add_list_test_sync_remove(cli, factory, slapd, tree):
    factory.org("acme")
    dns = tree.add_users(3)
    cli("ldap", "add", "acme", "corp", "--url", slapd.url, "--start-tls", "--ca-file",
        slapd.ca_file, "--bind-dn", L.READER_DN, "--bind-password", L.READER_PW,
        "--base-dn", tree.people, "--interval", "0")
    listed = json.loads(cli("ldap", "list", "acme", "--json").output)
    assert [s["name"] for s in listed] == ["corp"] and "bind_password" not in listed[0]
    assert "ok: bound over TLS" in cli("ldap", "test", "acme", "corp").output
    dry = cli("ldap", "sync", "acme", "corp", "--dry-run", "--full")
    assert "dry_run" in dry.output and "created=3" in dry.output
    assert "read: 3/3" in dry.stderr  # progress on stderr
    out = json.loads(cli("ldap", "sync", "acme", "corp", "--full", "--json").stdout)
    assert out["status"] == "succeeded" and out["counts"]["created"] == 3
    for dn in dns[:1]:
        tree.conn.delete(dn)
    stopped = cli("ldap", "sync", "acme", "corp", "--full", ok=False)
    assert stopped.exit_code == 1 and "(needs_confirmation)" in stopped.stderr
    cli("ldap", "sync", "acme", "corp", "--full", "--confirm-deactivations")
    assert "deactivated" in cli("ldap", "runs", "acme", "corp").output.splitlines()[0].lower()
    missing = cli("ldap", "sync", "acme", "nope", ok=False)
    assert missing.exit_code == 1 and "(ldap_source_not_found)" in missing.stderr
    cli("ldap", "remove", "acme", "corp")
    assert json.loads(cli("ldap", "list", "acme", "--json").output) == []
