"""Discovery endpoints (RFC 7644 §4): accurate to what this service provider implements."""
from __future__ import annotations

from flask import current_app

from .schemas import CORE_GROUP, CORE_USER, ENTERPRISE, LIST_RESPONSE, SCHEMAS, schema_resource

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"


def limits() -> dict[str, int]:
    c = current_app.config
    return {"max_results": int(c.get("SCIM_MAX_RESULTS", 1000)),
            "max_operations": int(c.get("SCIM_BULK_MAX_OPERATIONS", 1000)),
            "max_payload": int(c.get("SCIM_BULK_MAX_PAYLOAD", 1048576))}


def service_provider_config(base_url: str) -> dict:
    lim = limits()
    return {
        "schemas": [SPC],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": lim["max_operations"],
                 "maxPayloadSize": lim["max_payload"]},
        "filter": {"supported": True, "maxResults": lim["max_results"]},
        "changePassword": {"supported": True},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True,
            "description": "The organization's SCIM token (connector scim-token create) "
                           "as 'Authorization: Bearer <token>'.",
            "specUri": "https://datatracker.ietf.org/doc/html/rfc6750"}],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base_url}/ServiceProviderConfig"},
    }


def resource_types(base_url: str) -> list[dict]:
    def rt(name: str, endpoint: str, schema: str, extensions: list[str]) -> dict:
        return {"schemas": [RT], "id": name, "name": name, "endpoint": endpoint,
                "description": name, "schema": schema,
                "schemaExtensions": [{"schema": e, "required": False} for e in extensions],
                "meta": {"resourceType": "ResourceType",
                         "location": f"{base_url}/ResourceTypes/{name}"}}
    return [rt("User", "/Users", CORE_USER, [ENTERPRISE]), rt("Group", "/Groups", CORE_GROUP, [])]


def schemas(base_url: str) -> list[dict]:
    return [schema_resource(uri, base_url) for uri in SCHEMAS]


def list_response(resources: list[dict]) -> dict:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(resources),
            "itemsPerPage": len(resources), "startIndex": 1, "Resources": resources}
