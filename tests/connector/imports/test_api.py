"""The import API: multipart upload, dry run, commit, job status, report, template, errors."""
from __future__ import annotations

import io
import os

from connector.jobs import run_pending

from .helpers import csv_bytes


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _upload(client, key, data: bytes, name="users.csv", **form):
    return client.post("/api/v1/organizations/acme/imports", headers=_auth(key),
                       data={"file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def test_upload_dry_run_then_commit_then_report(app, client, factory):
    factory.org("acme")
    key = factory.api_key("acme")
    data = csv_bytes([["Email", "Given name", "Shoe size"], ["a@acme.org", "Ada", "38"],
                      ["nope", "X", ""]])
    r = _upload(client, key, data)
    assert r.status_code == 202
    dry = r.get_json()
    assert dry["status"] == "queued" and dry["dry_run"] is True
    run_pending(app)  # what the worker (or `connector serve`'s thread) does
    r = client.get(f"/api/v1/organizations/acme/jobs/{dry['id']}", headers=_auth(key))
    status = r.get_json()
    assert status["status"] == "done" and status["rows_done"] == status["rows_total"] == 2
    assert status["result"]["counts"] == {"created": 1, "rejected": 1}
    assert status["result"]["unknown_columns"] == ["Shoe size"]
    assert status["errors"] == [{"line": 3, "column": "email", "reason": "invalid_email",
                                 "message": "'nope' is not a valid email address."}]
    assert status["rate"] is not None
    members = client.get("/api/v1/organizations/acme/members", headers=_auth(key)).get_json()
    assert [m["email"] for m in members["members"]] == []

    r = client.post(f"/api/v1/organizations/acme/imports/{dry['id']}/commit", headers=_auth(key))
    assert r.status_code == 202
    job = r.get_json()
    run_pending(app)
    done = client.get(f"/api/v1/organizations/acme/jobs/{job['id']}", headers=_auth(key)).get_json()
    assert done["status"] == "done" and done["result"]["counts"] == status["result"]["counts"]
    members = client.get("/api/v1/organizations/acme/members", headers=_auth(key)).get_json()
    assert [m["email"] for m in members["members"]] == ["a@acme.org"]
    again = client.post(f"/api/v1/organizations/acme/imports/{dry['id']}/commit",
                        headers=_auth(key))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_committed"

    rep = client.get(f"/api/v1/organizations/acme/imports/{job['id']}/report", headers=_auth(key))
    assert rep.status_code == 200 and rep.mimetype == "text/csv"
    lines = rep.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("line,outcome,reason,column,message")
    assert lines[1].startswith("2,created") and lines[2].startswith("3,rejected,invalid_email")


def test_bad_uploads_get_stable_error_codes(client, factory):
    factory.org("acme")
    key = factory.api_key("acme")
    r = client.post("/api/v1/organizations/acme/imports", headers=_auth(key), data={},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "file_required"
    r = _upload(client, key, b"x", name="users.exe")
    assert r.get_json()["error"]["code"] == "unsupported_file"
    r = _upload(client, key, b"first_name\nAda\n")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "no_identifier_column"
    assert os.listdir(os.path.join(client.application.instance_path, "imports")) == []
    assert "Traceback" not in r.get_data(as_text=True)


def test_template_download_and_permission_and_tenant_isolation(client, factory):
    factory.org("acme")
    factory.org("other")
    key = factory.api_key("acme")
    r = client.get("/api/v1/organizations/acme/imports/template", headers=_auth(key))
    assert r.status_code == 200
    assert r.data.decode("utf-8-sig").splitlines()[0] == (
        "email,username,first_name,last_name,display_name,role,groups,sub_organization,"
        "password,external_id,active")
    viewer = factory.api_key("acme", ["org.view"])
    r = client.get("/api/v1/organizations/acme/imports/template", headers=_auth(viewer))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "permission_denied"
    other = factory.api_key("other")
    r = _upload(client, other, b"email\na@b.org\n")
    assert r.status_code == 404
    r = client.get("/api/v1/organizations/other/jobs/1", headers=_auth(other))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "job_not_found"


def test_every_import_route_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/organizations/{account}/imports", "/organizations/{account}/jobs/{job_id}",
                 "/organizations/{account}/imports/{job_id}/commit",
                 "/organizations/{account}/imports/{job_id}/report",
                 "/organizations/{account}/imports/template",
                 "/organizations/{account}/accounts/generate",
                 "/organizations/{account}/accounts/generate/{job_id}/sheet",
                 "/organizations/{account}/members/{user_id}/reset-password"):
        assert path in spec["paths"], path


def test_jobs_travel_through_redis_when_redis_url_is_set(app, client, factory):
    import redis
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        import pytest
        pytest.skip("no Redis on 127.0.0.1:6379")
    from huey import RedisHuey

    from connector.jobs import huey_for
    app.config["REDIS_URL"] = url
    h = huey_for(app)
    assert isinstance(h, RedisHuey)
    h.flush()
    factory.org("acme")
    key = factory.api_key("acme")
    job = _upload(client, key, b"email\na@acme.org\n", dry_run="false").get_json()
    assert h.pending_count() == 1
    run_pending(app)
    assert h.pending_count() == 0
    r = client.get(f"/api/v1/organizations/acme/jobs/{job['id']}", headers=_auth(key))
    assert r.get_json()["status"] == "done"
