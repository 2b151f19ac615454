"""The OpenAPI 3 document of /api/v1, built from one table so it stays next to the routes."""
from __future__ import annotations

from typing import Any

_ERR = {"$ref": "#/components/responses/Error"}
_ACCOUNT = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}}
_USER = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_KEY = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ROLE = {"name": "role", "in": "path", "required": True,
         "schema": {"type": "string", "enum": ["admin", "staff", "member"]}}


def _q(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in names]


# (path, method, summary, permission, path params, query params, request schema, status, response)
ROUTES = [
    ("/organizations", "get", "List the organizations the key reaches", "org.view", [],
     _q("account_contains"), None, 200, "OrganizationList"),
    ("/organizations", "post", "Create a sub-organization", "suborgs.manage (on parent)", [],
     [], "OrganizationCreate", 201, "Organization"),
    ("/organizations/{account}", "get", "Show an organization", "org.view", [_ACCOUNT], [],
     None, 200, "Organization"),
    ("/organizations/{account}", "patch", "Change name, description, seat limit, policies",
     "org.manage", [_ACCOUNT], [], "OrganizationUpdate", 200, "Organization"),
    ("/organizations/{account}", "delete", "Delete (owner only: API keys get 403 owner_only)",
     "owner", [_ACCOUNT], [], None, 204, None),
    ("/organizations/{account}/move", "post", "Move a sub-organization under another parent",
     "suborgs.manage", [_ACCOUNT], [], "Move", 200, "Organization"),
    ("/organizations/{account}/members", "get", "List members", "members.view", [_ACCOUNT],
     _q("role", "status", "source", "q", "after", "limit"), None, 200, "MemberList"),
    ("/organizations/{account}/members", "post", "Add a member (creates the account if new)",
     "members.manage", [_ACCOUNT], [], "MemberAdd", 201, "Member"),
    ("/organizations/{account}/members/{user_id}", "get", "Show a member", "members.view",
     [_ACCOUNT, _USER], [], None, 200, "Member"),
    ("/organizations/{account}/members/{user_id}", "patch", "Change role or status",
     "members.manage", [_ACCOUNT, _USER], [], "MemberUpdate", 200, "Member"),
    ("/organizations/{account}/members/{user_id}", "delete", "Remove a member",
     "members.manage", [_ACCOUNT, _USER], [], None, 204, None),
    ("/organizations/{account}/roles", "get", "Roles and their permissions", "members.view",
     [_ACCOUNT], [], None, 200, "RoleList"),
    ("/organizations/{account}/roles/{role}", "put", "Set a non-owner role's permissions",
     "roles.manage", [_ACCOUNT, _ROLE], [], "RolePermissions", 200, "Role"),
    ("/organizations/{account}/api-keys", "get", "List API keys", "apikeys.manage", [_ACCOUNT],
     [], None, 200, "ApiKeyList"),
    ("/organizations/{account}/api-keys", "post", "Create an API key (the key is shown once)",
     "apikeys.manage", [_ACCOUNT], [], "ApiKeyCreate", 201, "ApiKeyCreated"),
    ("/organizations/{account}/api-keys/{key_id}", "delete", "Revoke an API key",
     "apikeys.manage", [_ACCOUNT, _KEY], [], None, 204, None),
    ("/organizations/{account}/audit", "get", "Audit events, newest first", "audit.view",
     [_ACCOUNT], _q("action", "source", "actor", "before", "limit"), None, 200, "AuditList"),
]
from .openapi_invites import ROUTES as _INVITE_ROUTES, SCHEMAS as _INVITE_SCHEMAS  # noqa: E402
ROUTES += _INVITE_ROUTES
from .openapi_ldap import ROUTES as _LDAP_ROUTES, SCHEMAS as _LDAP_SCHEMAS  # noqa: E402
ROUTES += _LDAP_ROUTES
from .openapi_imports import ROUTES as _IMPORT_ROUTES, SCHEMAS as _IMPORT_SCHEMAS  # noqa: E402
ROUTES += _IMPORT_ROUTES
from .openapi_sso import ROUTES as _SSO_ROUTES, SCHEMAS as _SSO_SCHEMAS  # noqa: E402
ROUTES += _SSO_ROUTES
from .openapi_scim import ROUTES as _SCIM_ROUTES, SCHEMAS as _SCIM_SCHEMAS  # noqa: E402
ROUTES += _SCIM_ROUTES

_obj = lambda **props: {"type": "object", "properties": props}  # noqa: E731
_str, _int = {"type": "string"}, {"type": "integer"}
_nstr = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(error=_obj(code=_str, message=_str, details={"type": "object"})),
    "Organization": _obj(account=_str, name=_str, description=_str, parent=_nstr, depth=_int,
                         seat_limit={"type": "integer", "nullable": True}, default_role=_str,
                         deprovision_policy=_str, settings={"type": "object"},
                         created_at=_str, updated_at=_str, seats_used=_int),
    "OrganizationList": _obj(organizations={"type": "array",
                                            "items": {"$ref": "#/components/schemas/Organization"}}),
    "OrganizationCreate": {**_obj(account={"type": "string", "pattern": "^[a-z0-9_]{2,36}$"},
                                  name=_str, description=_str, parent=_str, seat_limit=_int),
                           "required": ["account", "name", "parent"]},
    "OrganizationUpdate": _obj(name=_str, description=_str, seat_limit=_int, default_role=_str,
                               deprovision_policy={"type": "string",
                                                   "enum": ["deactivate", "remove"]},
                               settings={"type": "object"}),
    "Move": {**_obj(parent=_str), "required": ["parent"]},
    "Member": _obj(user_id=_int, email=_nstr, username=_nstr, display_name=_str, role=_str,
                   status=_str, source=_str, managed_by=_nstr, joined_at=_str, outcome=_str),
    "MemberList": _obj(members={"type": "array", "items": {"$ref": "#/components/schemas/Member"}},
                       next_after={"type": "integer", "nullable": True}),
    "MemberAdd": _obj(email=_str, username=_str, user_id=_int, role=_str, given_name=_str,
                      family_name=_str),
    "MemberUpdate": _obj(role=_str, status={"type": "string", "enum": ["active", "deactivated"]}),
    "Role": _obj(name=_str, permissions={"type": "array", "items": _str}),
    "RoleList": _obj(roles={"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
                     permissions={"type": "object"}),
    "RolePermissions": {**_obj(permissions={"type": "array", "items": _str}),
                        "required": ["permissions"]},
    "ApiKey": _obj(id=_int, name=_str, hint=_str, permissions={"type": "array", "items": _str},
                   created_by=_str, created_at=_str, expires_at=_nstr, revoked_at=_nstr,
                   last_used_at=_nstr),
    "ApiKeyList": _obj(api_keys={"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}}),
    "ApiKeyCreate": _obj(name=_str, permissions={"type": "array", "items": _str}),
    "ApiKeyCreated": _obj(id=_int, name=_str, key=_str, permissions={"type": "array",
                                                                     "items": _str}),
    "AuditList": _obj(events={"type": "array", "items": {"type": "object"}}),
}
SCHEMAS.update(_INVITE_SCHEMAS)
SCHEMAS.update(_LDAP_SCHEMAS)
SCHEMAS.update(_IMPORT_SCHEMAS)
SCHEMAS.update(_SSO_SCHEMAS)
SCHEMAS.update(_SCIM_SCHEMAS)


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, Any] = {}
    for path, method, summary, perm, pparams, qparams, req, status, resp in ROUTES:
        op: dict[str, Any] = {
            "summary": summary, "description": f"Permission: `{perm}`.",
            "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": pparams + qparams,
            "responses": {str(status): {"description": "OK"} if resp is None else {
                "description": "OK", "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{resp}"}}}},
                "400": _ERR, "401": _ERR, "403": _ERR, "404": _ERR, "409": _ERR}}
        if req:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{req}"}}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "connector admin API", "version": "1",
                 "description": "Organizations, members, roles, API keys and audit. "
                                "Errors are {\"error\": {\"code\", \"message\"}} with stable codes."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "An organization API key (cnk_...)."}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": SCHEMAS,
        },
    }
