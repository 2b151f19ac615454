"""OpenAPI entries for SSO connections, sign-in attempts and domains (appended to ROUTES)."""
from __future__ import annotations

from typing import Any

_A = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}}
_N = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_D = {"name": "domain", "in": "path", "required": True, "schema": {"type": "string"}}
_C = "/organizations/{account}/sso-connections"
_P = "sso.manage"


def _q(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in names]


ROUTES = [
    (_C, "get", "List SSO connections with their login, redirect/ACS and metadata URLs", _P,
     [_A], [], None, 200, "SsoConnectionList"),
    (_C, "post", "Add an OIDC or SAML connection (secrets are stored encrypted)", _P, [_A], [],
     "SsoConnectionCreate", 201, "SsoConnection"),
    (_C + "/{name}", "get", "Show a connection and the claims of its last test sign-in", _P,
     [_A, _N], [], None, 200, "SsoConnection"),
    (_C + "/{name}", "patch", "Enable/disable, IdP-initiated, tenants, certificates", _P,
     [_A, _N], [], "SsoConnectionUpdate", 200, "SsoConnection"),
    (_C + "/{name}", "delete", "Remove a connection (its users keep their accounts)", _P,
     [_A, _N], [], None, 204, None),
    ("/organizations/{account}/sso-attempts", "get",
     "Sign-in attempts, newest first, with outcome and reason code", _P, [_A],
     _q("connection", "limit"), None, 200, "SsoAttemptList"),
    ("/organizations/{account}/domains", "get", "Email domains and their verification", _P,
     [_A], [], None, 200, "DomainList"),
    ("/organizations/{account}/domains", "post",
     "Add a domain; publish its TXT record, then verify", _P, [_A], [], "DomainAdd", 201,
     "Domain"),
    ("/organizations/{account}/domains/{domain}/verify", "post",
     "Check the DNS TXT record and mark the domain verified", _P, [_A, _D], [], None, 200,
     "Domain"),
]

_obj = lambda **props: {"type": "object", "properties": props}  # noqa: E731
_str, _bool = {"type": "string"}, {"type": "boolean"}
_strs = {"type": "array", "items": _str}
_ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731

SCHEMAS: dict[str, Any] = {
    "SsoConnection": _obj(name=_str, kind=_str, preset=_str, enabled=_bool, domains=_strs,
                          login_url=_str, redirect_uri=_str, acs_url=_str, metadata_url=_str,
                          entity_id=_str, issuer=_str, client_id=_str, scopes=_strs,
                          allowed_tenants=_strs, idp_entity_id=_str, idp_sso_url=_str,
                          idp_certificates={"type": "integer"}, allow_idp_initiated=_bool,
                          sign_requests=_bool, want_encrypted=_bool, created_at=_str,
                          last_test={"type": "object", "nullable": True}),
    "SsoConnectionList": _obj(connections={"type": "array", "items": _ref("SsoConnection")}),
    "SsoConnectionCreate": {**_obj(
        kind={"type": "string", "enum": ["oidc", "saml"]}, name=_str, domains=_strs,
        issuer=_str, client_id=_str, client_secret=_str,
        preset={"type": "string", "enum": ["microsoft", "google", "okta"]},
        allowed_tenants=_strs, metadata_xml=_str, metadata_url=_str, sign_requests=_bool,
        want_encrypted=_bool, allow_idp_initiated=_bool, id_attribute=_str),
        "required": ["kind", "name"]},
    "SsoConnectionUpdate": _obj(enabled=_bool, allow_idp_initiated=_bool, sign_requests=_bool,
                                want_encrypted=_bool, allowed_tenants=_strs, id_attribute=_str,
                                attributes={"type": "object"}, idp_certs=_strs),
    "SsoAttempt": _obj(id={"type": "integer"}, connection=_str, outcome=_str, reason=_str,
                       message=_str, subject=_str, email=_str,
                       user_id={"type": "integer", "nullable": True}, created_at=_str),
    "SsoAttemptList": _obj(attempts={"type": "array", "items": _ref("SsoAttempt")}),
    "Domain": _obj(domain=_str, verified=_bool, verified_at={"type": "string", "nullable": True},
                   txt_record=_str, created_at=_str),
    "DomainList": _obj(domains={"type": "array", "items": _ref("Domain")}),
    "DomainAdd": {**_obj(domain=_str), "required": ["domain"]},
}
