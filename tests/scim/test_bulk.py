"""/Bulk (RFC 7644 §3.7): bulkId references, failOnErrors, advertised limits enforced."""
from __future__ import annotations

import json

from .conftest import GROUP, USER, assert_error

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def test_bulk_with_bulk_id_references(scim):
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        # The group refers to a user created later in the same request.
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP], "displayName": "Tour Guides",
                  "members": [{"type": "User", "value": "bulkId:u1"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1",
         "data": {"schemas": [USER], "userName": "alice@acme.test"}},
        {"method": "PATCH", "path": "/Users/bulkId:u1",
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "title", "value": "Guide"}]}},
    ]})
    assert r.status_code == 200
    ops = r.get_json()["Operations"]
    assert [o["status"] for o in ops] == ["201", "201", "200"]
    uid = ops[1]["location"].rsplit("/", 1)[1]
    gid = ops[0]["location"].rsplit("/", 1)[1]
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").get_json()["members"]] == [uid]
    assert scim.get(f"/Users/{uid}").get_json()["title"] == "Guide"


def test_fail_on_errors_stops_after_that_many_errors(scim):
    scim.user("dup@acme.test")
    r = scim.post("/Bulk", {"schemas": [BULK], "failOnErrors": 1, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "dup@acme.test"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "ok@acme.test"}},
    ]})
    ops = r.get_json()["Operations"]
    assert len(ops) == 1 and ops[0]["status"] == "409"
    assert ops[0]["response"]["scimType"] == "uniqueness"
    assert scim.get("/Users").get_json()["totalResults"] == 1
    # Without failOnErrors every operation runs; a failed one leaves nothing behind.
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "dup@acme.test"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "ok@acme.test"}},
        {"method": "DELETE", "path": "/Users/missing"},
    ]})
    assert [o["status"] for o in r.get_json()["Operations"]] == ["409", "201", "404"]


def test_unresolvable_bulk_id_is_an_error_not_a_crash(scim):
    r = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "PATCH", "path": "/Users/bulkId:nope", "data": {}}]})
    assert r.get_json()["Operations"][0]["status"] == "409"


def test_max_operations_and_max_payload_are_enforced_with_413(scim, app):
    app.config["SCIM_BULK_MAX_OPERATIONS"] = 2
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": {"userName": f"u{i}@acme.test"}} for i in range(3)]
    assert_error(scim.post("/Bulk", {"schemas": [BULK], "Operations": ops}), 413)
    app.config["SCIM_BULK_MAX_PAYLOAD"] = 200
    big = {"schemas": [BULK], "Operations": ops[:1] * 1, "pad": "x" * 300}
    assert len(json.dumps(big)) > 200
    assert_error(scim.post("/Bulk", big), 413)
    assert scim.get("/Users").get_json()["totalResults"] == 0
    cfg = scim.get("/ServiceProviderConfig").get_json()["bulk"]
    assert cfg["maxOperations"] == 2 and cfg["maxPayloadSize"] == 200
