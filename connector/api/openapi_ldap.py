"""OpenAPI entries for LDAP directory sources and runs (appended to openapi.ROUTES)."""
from __future__ import annotations

from typing import Any

_A = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}}
_S = {"name": "source_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_R = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_B = "/organizations/{account}/ldap-sources"
_P = "ldap.manage"

# Same shape as openapi.ROUTES.
ROUTES = [
    (_B, "get", "List directory sources", _P, [_A], [], None, 200, "LdapSourceList"),
    (_B, "post", "Add a directory source (bind_password is stored encrypted, never returned)",
     _P, [_A], [], "LdapSourceWrite", 201, "LdapSource"),
    (_B + "/{source_id}", "get", "Show a directory source", _P, [_A, _S], [], None, 200,
     "LdapSource"),
    (_B + "/{source_id}", "patch", "Change a directory source", _P, [_A, _S], [],
     "LdapSourceWrite", 200, "LdapSource"),
    (_B + "/{source_id}", "delete", "Remove a directory source (its members stay)", _P,
     [_A, _S], [], None, 204, None),
    (_B + "/{source_id}/test", "post", "Bind and read a sample of users and the groups", _P,
     [_A, _S], [], None, 200, "LdapTest"),
    (_B + "/{source_id}/sync", "post",
     "Sync now: a dry run answers with the diff (200); a real run is queued (202)", _P,
     [_A, _S], [], "LdapSync", 202, "LdapRun"),
    (_B + "/{source_id}/runs", "get", "Recent runs with counts and errors", _P, [_A, _S],
     [{"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}}],
     None, 200, "LdapRunList"),
    (_B + "/{source_id}/runs/{run_id}", "get", "One run: status, progress, report", _P,
     [_A, _S, _R], [], None, 200, "LdapRun"),
]

_obj = lambda **props: {"type": "object", "properties": props}  # noqa: E731
_str, _int, _bool = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_strmap = {"type": "object", "additionalProperties": {"type": "string"}}
_common = dict(name=_str, urls={"type": "array", "items": _str}, start_tls=_bool,
               tls_verify=_bool, ca_file={"type": "string", "nullable": True}, bind_dn=_str,
               base_dn=_str, scope={"type": "string", "enum": ["base", "one", "subtree"]},
               preset={"type": "string", "enum": ["openldap", "active_directory"]},
               user_filter=_str, mapping=_strmap,
               group_kind={"type": "string", "enum": ["none", "groupOfNames",
                                                      "groupOfUniqueNames", "posixGroup",
                                                      "ad_nested", "memberOf"]},
               group_base=_str, group_filter=_str, group_roles=_strmap, group_sub_orgs=_strmap,
               page_size={"type": "integer", "minimum": 1, "maximum": 1000},
               interval_minutes=_int,
               max_deactivate_percent={"type": "number", "nullable": True}, enabled=_bool,
               allow_signin=_bool, ignore_referrals=_bool)
SCHEMAS: dict[str, Any] = {
    "LdapSourceWrite": _obj(**_common, bind_password=_str),
    "LdapSource": _obj(id=_int, **_common, has_bind_password=_bool,
                       watermark={"type": "string", "nullable": True}, last_run_at=_str,
                       last_success_at=_str, last_full_at=_str, created_at=_str),
    "LdapSourceList": _obj(ldap_sources={"type": "array",
                                         "items": {"$ref": "#/components/schemas/LdapSource"}}),
    "LdapTest": _obj(ok=_bool, tls=_bool, groups={"type": "integer", "nullable": True},
                     sample={"type": "array", "items": {"type": "object"}}),
    "LdapSync": _obj(full=_bool, dry_run=_bool, confirm_deactivations=_bool),
    "LdapRun": _obj(id=_int, source_id=_int, full=_bool, dry_run=_bool,
                    status={"type": "string", "enum": ["queued", "running", "succeeded",
                                                       "dry_run", "needs_confirmation",
                                                       "failed"]},
                    phase=_str, progress=_int, counts={"type": "object"},
                    errors={"type": "array", "items": _obj(dn=_str, code=_str, message=_str)},
                    message=_str, actor=_str, created_at=_str, started_at=_str,
                    finished_at=_str),
    "LdapRunList": _obj(runs={"type": "array", "items": {"$ref": "#/components/schemas/LdapRun"}}),
}
