"""Discovery endpoints say what is implemented (RFC 7644 §4)."""
from __future__ import annotations

from .conftest import ENTERPRISE, GROUP, USER, assert_error


def test_service_provider_config_advertises_what_is_implemented(scim):
    r = scim.get("/ServiceProviderConfig")
    assert r.status_code == 200 and r.mimetype == "application/scim+json"
    c = r.get_json()
    assert c["patch"]["supported"] and c["sort"]["supported"] and c["etag"]["supported"]
    assert c["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert c["filter"] == {"supported": True, "maxResults": 1000}
    assert c["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_each_by_id(scim):
    body = scim.get("/ResourceTypes").get_json()
    assert body["totalResults"] == 2
    user = scim.get("/ResourceTypes/User").get_json()
    assert user["endpoint"] == "/Users" and user["schema"] == USER
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert scim.get("/ResourceTypes/Group").get_json()["schema"] == GROUP
    assert_error(scim.get("/ResourceTypes/Device"), 404)


def test_schemas_and_each_by_id(scim):
    ids = [s["id"] for s in scim.get("/Schemas").get_json()["Resources"]]
    assert set(ids) == {USER, ENTERPRISE, GROUP}
    user = scim.get(f"/Schemas/{USER}").get_json()
    attrs = {a["name"]: a for a in user["attributes"]}
    assert attrs["userName"]["uniqueness"] == "server" and not attrs["userName"]["caseExact"]
    assert attrs["password"]["returned"] == "never"
    assert attrs["groups"]["mutability"] == "readOnly"
    ent = scim.get(f"/Schemas/{ENTERPRISE}").get_json()
    assert "manager" in {a["name"] for a in ent["attributes"]}
    assert_error(scim.get("/Schemas/urn:nope"), 404)


def test_unknown_endpoint_is_scim_404(scim):
    assert_error(scim.get("/Devices"), 404)
