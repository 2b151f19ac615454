"""OpenAPI entries for SCIM tokens and group mappings (appended to openapi.ROUTES)."""
from __future__ import annotations

from typing import Any

_A = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}}
_T = {"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_G = {"name": "group", "in": "path", "required": True, "schema": {"type": "string"},
      "description": "The group's SCIM id or its display name"}
_ORG = "/organizations/{account}"

# Same shape as openapi.ROUTES.
ROUTES = [
    (f"{_ORG}/scim-tokens", "get", "List SCIM tokens (never their secrets)", "scim.manage", [_A],
     [], None, 200, "ScimTokenList"),
    (f"{_ORG}/scim-tokens", "post", "Create a SCIM token (the token is shown once)",
     "scim.manage", [_A], [], "ScimTokenCreate", 201, "ScimTokenCreated"),
    (f"{_ORG}/scim-tokens/{{token_id}}", "delete", "Revoke a SCIM token", "scim.manage",
     [_A, _T], [], None, 204, None),
    (f"{_ORG}/scim-groups", "get", "Groups and what each grants", "members.view", [_A], [],
     None, 200, "ScimGroupList"),
    (f"{_ORG}/scim-groups/{{group}}/mapping", "put",
     "Map a group to a role and/or sub-organization (applied to its members at once)",
     "members.manage", [_A, _G], [], "ScimGroupMapping", 200, "ScimGroup"),
]

_obj = lambda **props: {"type": "object", "properties": props}  # noqa: E731
_str, _nstr = {"type": "string"}, {"type": "string", "nullable": True}
_token = dict(id={"type": "integer"}, name=_str, hint=_str, created_by=_str, created_at=_str,
              expires_at=_nstr, revoked_at=_nstr, last_used_at=_nstr)

SCHEMAS: dict[str, Any] = {
    "ScimToken": _obj(**_token),
    "ScimTokenList": _obj(scim_tokens={"type": "array",
                                       "items": {"$ref": "#/components/schemas/ScimToken"}}),
    "ScimTokenCreate": _obj(name=_str),
    "ScimTokenCreated": _obj(**_token, token=_str),
    "ScimGroup": _obj(id=_nstr, display_name=_str, source=_str, role=_nstr,
                      sub_organization=_nstr, results={"type": "array",
                                                       "items": {"type": "object"}}),
    "ScimGroupList": _obj(groups={"type": "array",
                                  "items": {"$ref": "#/components/schemas/ScimGroup"}}),
    "ScimGroupMapping": _obj(role=_nstr, sub_organization=_nstr),
}
