"""The schemas we implement (RFC 7643 §4, §8.7.1), as data: /Schemas serves them, and input is
canonicalized and coerced against them."""
from __future__ import annotations

from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def attr(name: str, type: str = "string", *, multi: bool = False, case_exact: bool = False,
         mutability: str = "readWrite", returned: str = "default", uniqueness: str = "none",
         required: bool = False, sub: list[dict] | None = None,
         canonical: list[str] | None = None, refs: list[str] | None = None) -> dict[str, Any]:
    """One attribute definition in RFC 7643 §7 form."""
    out: dict[str, Any] = {"name": name, "type": type, "multiValued": multi, "description": name,
                           "required": required, "caseExact": case_exact,
                           "mutability": mutability, "returned": returned,
                           "uniqueness": uniqueness}
    if sub is not None:
        out["subAttributes"] = sub
    if canonical:
        out["canonicalValues"] = canonical
    if refs:
        out["referenceTypes"] = refs
    return out


def _multi(name: str, types: list[str], extra: list[dict] | None = None) -> dict[str, Any]:
    return attr(name, "complex", multi=True, sub=[
        attr("value"), attr("display"), attr("type", canonical=types),
        attr("primary", "boolean"), *(extra or [])])


_NAME = attr("name", "complex", sub=[attr(n) for n in (
    "formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")])
_ADDRESSES = attr("addresses", "complex", multi=True, sub=[
    attr(n) for n in ("formatted", "streetAddress", "locality", "region", "postalCode",
                      "country")] + [attr("type", canonical=["work", "home", "other"]),
                                     attr("primary", "boolean")])
_GROUPS = attr("groups", "complex", multi=True, mutability="readOnly", sub=[
    attr("value", mutability="readOnly"), attr("$ref", "reference", mutability="readOnly",
                                               refs=["Group"]),
    attr("display", mutability="readOnly"), attr("type", mutability="readOnly",
                                                 canonical=["direct", "indirect"])])

USER_ATTRS = [
    attr("userName", required=True, uniqueness="server"),
    _NAME, attr("displayName"), attr("nickName"), attr("profileUrl", "reference", refs=["external"]),
    attr("title"), attr("userType"), attr("preferredLanguage"), attr("locale"), attr("timezone"),
    attr("active", "boolean"),
    attr("password", mutability="writeOnly", returned="never"),
    _multi("emails", ["work", "home", "other"]),
    _multi("phoneNumbers", ["work", "home", "mobile", "fax", "pager", "other"]),
    _multi("ims", ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    _multi("photos", ["photo", "thumbnail"]),
    _ADDRESSES, _GROUPS,
    _multi("entitlements", []), _multi("roles", []), _multi("x509Certificates", []),
]
ENTERPRISE_ATTRS = [
    attr("employeeNumber"), attr("costCenter"), attr("organization"), attr("division"),
    attr("department"),
    attr("manager", "complex", sub=[attr("value"), attr("$ref", "reference", refs=["User"]),
                                    attr("displayName", mutability="readOnly")]),
]
GROUP_ATTRS = [
    attr("displayName", required=True),
    attr("members", "complex", multi=True, sub=[
        attr("value", mutability="immutable"),
        attr("$ref", "reference", mutability="immutable", refs=["User", "Group"]),
        attr("display", mutability="readOnly"),
        attr("type", mutability="immutable", canonical=["User", "Group"])]),
]
COMMON_ATTRS = [attr("id", mutability="readOnly", returned="always", uniqueness="server",
                     case_exact=True),
                attr("externalId", case_exact=True), attr("meta", "complex", mutability="readOnly")]

SCHEMAS = {
    CORE_USER: ("User", "User Account", USER_ATTRS),
    ENTERPRISE: ("EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRS),
    CORE_GROUP: ("Group", "Group", GROUP_ATTRS),
}


def schema_resource(uri: str, base_url: str) -> dict[str, Any]:
    """A /Schemas resource (RFC 7643 §7)."""
    name, description, attrs = SCHEMAS[uri]
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": uri,
            "name": name, "description": description, "attributes": attrs,
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{uri}"}}


def _index(attrs: list[dict]) -> dict[str, dict]:
    return {a["name"].lower(): a for a in attrs}


USER_INDEX = _index(USER_ATTRS + COMMON_ATTRS)
ENTERPRISE_INDEX = _index(ENTERPRISE_ATTRS)
GROUP_INDEX = _index(GROUP_ATTRS + COMMON_ATTRS)
EXTENSIONS = {"User": {ENTERPRISE.lower(): (ENTERPRISE, ENTERPRISE_INDEX)}, "Group": {}}
CORE = {"User": (CORE_USER, USER_INDEX), "Group": (CORE_GROUP, GROUP_INDEX)}


def sub_index(definition: dict) -> dict[str, dict]:
    return _index(definition.get("subAttributes") or [])
