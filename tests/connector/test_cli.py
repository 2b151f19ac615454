"""The connector command: tables, --json, one line on stderr and exit 1 on error."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from tests.ports import free_port






def test_org_commands(cli):
    out = cli("org", "create", "acme", "--name", "Acme Inc", "--owner-email", "boss@acme.com").output
    assert out.splitlines()[0].split() == ["ACCOUNT", "NAME", "PARENT", "DEPTH", "SEAT_LIMIT", "CREATED_AT"]
    cli("org", "create", "acme_eu", "--name", "Acme EU", "--parent", "acme")
    cli("org", "create", "globex", "--name", "Globex")
    listed = json.loads(cli("org", "list", "--json").output)
    assert [o["account"] for o in listed] == ["acme", "acme_eu", "globex"]
    found = json.loads(cli("org", "search", "--account-contains", "eu", "--json").output)
    assert [o["account"] for o in found] == ["acme_eu"]
    shown = json.loads(cli("org", "show", "acme", "--json").output)
    assert shown["seats_used"] == 1 and shown["sub_organizations"] == ["acme_eu"]
    moved = json.loads(cli("org", "move", "acme_eu", "--parent", "acme", "--json").output)
    assert moved["parent"] == "acme"
    cli("org", "delete", "globex")
    assert [o["account"] for o in json.loads(cli("org", "list", "--json").output)] == ["acme", "acme_eu"]


def test_errors_are_one_line_on_stderr_with_exit_1(cli):
    cli("org", "create", "acme", "--name", "Acme")
    r = cli("org", "create", "acme", "--name", "Again", ok=False)
    assert r.exit_code == 1
    assert r.stderr.strip() == "error: The account 'acme' is taken. (account_taken)"
    assert r.stdout == ""
    r = cli("org", "delete", "acme_nope", ok=False)
    assert r.exit_code == 1 and "(org_not_found)" in r.stderr


def test_member_commands(cli):
    cli("org", "create", "acme", "--name", "Acme", "--owner-email", "boss@acme.com")
    added = json.loads(cli("member", "add", "acme", "dev@acme.com", "--role", "staff", "--json").output)
    assert (added["outcome"], added["role"]) == ("created", "staff")
    cli("member", "set-role", "acme", "dev@acme.com", "admin")
    rows = json.loads(cli("member", "list", "acme", "--json").output)
    assert {r["email"]: r["role"] for r in rows} == {"boss@acme.com": "owner", "dev@acme.com": "admin"}
    r = cli("member", "remove", "acme", "boss@acme.com", ok=False)
    assert "(last_owner)" in r.stderr
    cli("member", "remove", "acme", "dev@acme.com")
    assert len(json.loads(cli("member", "list", "acme", "--json").output)) == 1


def test_api_key_is_alone_on_the_last_line_and_works(cli, client):
    cli("org", "create", "acme", "--name", "Acme")
    out = cli("api-key", "create", "acme", "--name", "ci", "--permission", "org.view").output
    key = out.rstrip("\n").splitlines()[-1]
    assert key.startswith("cnk_") and " " not in key
    assert client.get("/api/v1/organizations/acme", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    keys = json.loads(cli("api-key", "list", "acme", "--json").output)
    assert key not in json.dumps(keys)
    cli("api-key", "revoke", "acme", str(keys[0]["id"]))
    assert client.get("/api/v1/organizations/acme", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    r = cli("api-key", "create", "acme", "--name", "x", "--permission", "org.delete", ok=False)
    assert "(owner_only_permission)" in r.stderr



def test_serve_runs_the_embedded_default_from_nothing(tmp_path):
    """`connector serve` on a fresh folder: SQLite file created, migrated, app answering."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["CONNECTOR_INSTANCE_PATH"] = str(tmp_path / "instance")
    exe = os.path.join(os.path.dirname(sys.executable), "connector")
    proc = subprocess.Popen([exe, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stdout.read() if proc.poll() is not None else "timeout")
                time.sleep(0.3)
        assert body["status"] == "ok"
        assert (tmp_path / "instance" / "connector.db").exists()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}/" in out


def _connector(args, instance, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["CONNECTOR_INSTANCE_PATH"] = str(instance)
    env.update(extra_env or {})
    exe = os.path.join(os.path.dirname(sys.executable), "connector")
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)


def test_embedded_default_migrates_itself_and_a_first_owner_gets_a_password(tmp_path):
    made = _connector(["org", "create", "acme", "--name", "Acme", "--owner-email", "you@acme.com"],
                      tmp_path / "instance")
    assert made.returncode == 0, made.stderr
    reset = _connector(["accounts", "reset-password", "acme", "you@acme.com"], tmp_path / "instance")
    assert reset.returncode == 0, reset.stderr
    password = reset.stdout.strip().splitlines()[-1].split()[-1]
    assert len(password) >= 12


def test_a_production_database_behind_head_is_refused_with_one_line(tmp_path):
    r = _connector(["org", "list"], tmp_path / "instance",
                   {"CONNECTOR_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db"})
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: the database schema is not at head; run "
                                "'connector db upgrade' (migrations_pending)")
