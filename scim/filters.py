"""SCIM filters (RFC 7644 §3.4.2.2) to SQL: scim2-filter-parser parses, we compile its AST to
SQLAlchemy expressions over real columns, one attribute map per resource type.

scim2-filter-parser's own transpiler silently drops attributes missing from its map (a lone
unknown filter then matches every row) and only treats the exact spelling ``userName`` as
case-insensitive. So every attribute path is resolved here, case-insensitively, and an unknown
one is 400 invalidFilter; string comparisons follow each attribute's ``caseExact``."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from scim2_filter_parser import ast as fast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser
from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, true
from sqlalchemy.orm import aliased

from connector.models import Group, GroupMember

from .errors import InvalidFilter
from .models import ScimGroup, ScimUser, ScimUserValue
from .schemas import CORE_GROUP, CORE_USER, ENTERPRISE


@dataclass(frozen=True)
class Scalar:
    column: Any
    type: str = "string"       # string | boolean | datetime
    case_exact: bool = False
    folded: bool = False       # the column already holds a case-folded copy


@dataclass
class Multi:
    """A multi-valued attribute: EXISTS over its rows."""

    exists: Callable[[ColumnElement], ColumnElement]
    subs: dict[str, Scalar] = field(default_factory=dict)


def parse(text: str) -> fast.AST:
    """Parse a filter or raise InvalidFilter."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilter("The filter is empty.")
    try:
        return SCIMParser().parse(SCIMLexer().tokenize(text))
    except Exception:  # the parser raises bare errors of several kinds on bad input
        raise InvalidFilter("The filter is not valid SCIM filter syntax.") from None


# -- attribute maps ---------------------------------------------------------------------------

V = ScimUserValue


def _values(attr: str) -> Multi:
    subs = {"value": Scalar(V.value_folded, folded=True), "type": Scalar(V.type),
            "primary": Scalar(V.primary, "boolean"), "display": Scalar(V.display)}
    if attr == "addresses":
        subs.update({"formatted": Scalar(V.formatted), "streetaddress": Scalar(V.street_address),
                     "locality": Scalar(V.locality), "region": Scalar(V.region),
                     "postalcode": Scalar(V.postal_code), "country": Scalar(V.country)})
        del subs["value"], subs["display"]
    return Multi(lambda cond: exists(select(V.id).where(
        V.scim_user_id == ScimUser.id, V.attr == attr, cond)), subs)


_G = aliased(Group)
_user_groups = Multi(lambda cond: exists(select(GroupMember.group_id).join(
    _G, _G.id == GroupMember.group_id).where(
    GroupMember.user_id == ScimUser.user_id, _G.organization_id == ScimUser.organization_id,
    cond)), {"value": Scalar(_G.external_id, case_exact=True), "display": Scalar(_G.display_name)})

_M = aliased(ScimUser)
_group_members = Multi(lambda cond: exists(select(GroupMember.user_id).join(
    _M, (_M.user_id == GroupMember.user_id) & (_M.organization_id == Group.organization_id))
    .where(GroupMember.group_id == Group.id, _M.deleted_at.is_(None), cond)),
    {"value": Scalar(_M.scim_id, case_exact=True), "display": Scalar(_M.display_name)})

U = ScimUser
USER_MAP: dict[tuple[str, str | None], Scalar | Multi] = {
    ("id", None): Scalar(U.scim_id, case_exact=True),
    ("externalid", None): Scalar(U.external_id, case_exact=True),
    ("username", None): Scalar(U.user_name_folded, folded=True),
    ("displayname", None): Scalar(U.display_name), ("nickname", None): Scalar(U.nick_name),
    ("title", None): Scalar(U.title), ("usertype", None): Scalar(U.user_type),
    ("preferredlanguage", None): Scalar(U.preferred_language),
    ("locale", None): Scalar(U.locale), ("timezone", None): Scalar(U.timezone),
    ("profileurl", None): Scalar(U.profile_url),
    ("active", None): Scalar(U.active, "boolean"),
    ("name", "formatted"): Scalar(U.formatted_name), ("name", "givenname"): Scalar(U.given_name),
    ("name", "familyname"): Scalar(U.family_name), ("name", "middlename"): Scalar(U.middle_name),
    ("name", "honorificprefix"): Scalar(U.honorific_prefix),
    ("name", "honorificsuffix"): Scalar(U.honorific_suffix),
    ("meta", "created"): Scalar(U.created_at, "datetime"),
    ("meta", "lastmodified"): Scalar(U.updated_at, "datetime"),
    **{(a.lower(), None): _values(a) for a in (
        "emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles",
        "x509Certificates")},
    ("groups", None): _user_groups,
}
ENTERPRISE_MAP: dict[tuple[str, str | None], Scalar] = {
    ("employeenumber", None): Scalar(U.employee_number),
    ("costcenter", None): Scalar(U.cost_center), ("organization", None): Scalar(U.organization),
    ("division", None): Scalar(U.division), ("department", None): Scalar(U.department),
    ("manager", "value"): Scalar(U.manager_id, case_exact=True),
    ("manager", None): Scalar(U.manager_id, case_exact=True),
}
GROUP_MAP: dict[tuple[str, str | None], Scalar | Multi] = {
    ("id", None): Scalar(Group.external_id, case_exact=True),
    ("externalid", None): Scalar(ScimGroup.external_id, case_exact=True),
    ("displayname", None): Scalar(Group.display_name),
    ("meta", "created"): Scalar(Group.created_at, "datetime"),
    ("meta", "lastmodified"): Scalar(Group.updated_at, "datetime"),
    ("members", None): _group_members,
}


def resolve(kind: str, name: str, sub: str | None, uri: str | None) -> Scalar | Multi:
    """The column (or multi-valued attribute) a path names, or InvalidFilter."""
    key = (name.lower(), sub.lower() if sub else None)
    uri_l = uri.lower().rstrip(":") if uri else None
    if kind == "User":
        if uri_l in (None, CORE_USER.lower()) and key in USER_MAP:
            return USER_MAP[key]
        if uri_l in (None, ENTERPRISE.lower()) and key in ENTERPRISE_MAP:
            return ENTERPRISE_MAP[key]
        if key[0] in ("emails", "phonenumbers", "ims", "photos", "addresses", "entitlements",
                      "roles", "x509certificates", "groups") and uri_l in (None, CORE_USER.lower()):
            m = USER_MAP[(key[0], None)]
            if key[1] in m.subs:
                return m
    elif uri_l in (None, CORE_GROUP.lower()):
        if key in GROUP_MAP:
            return GROUP_MAP[key]
        if key[0] == "members" and key[1] in _group_members.subs:
            return _group_members
    raise InvalidFilter(f"Unknown or unfilterable attribute "
                        f"'{(uri + ':') if uri else ''}{name}{'.' + sub if sub else ''}'.")


# -- compilation ------------------------------------------------------------------------------

def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter(f"'{value}' is not a dateTime.") from None


def compare(target: Scalar, op: str, raw: str | None) -> ColumnElement:
    """One attribute operator on one column."""
    op = op.lower()
    col = target.column
    if op == "pr":
        return and_(col.is_not(None), col != "") if target.type == "string" else col.is_not(None)
    if raw is None:
        raise InvalidFilter(f"The '{op}' operator needs a value.")
    if raw == "null":
        if op == "eq":
            return col.is_(None)
        if op == "ne":
            return col.is_not(None)
    if target.type == "boolean":
        if raw not in ("true", "false") or op not in ("eq", "ne"):
            raise InvalidFilter("A boolean attribute takes 'eq' or 'ne' with true or false.")
        want = (raw == "true") == (op == "eq")
        return col.is_(True) if want else or_(col.is_(False), col.is_(None))
    value: Any = raw
    if target.type == "datetime":
        if op in ("co", "sw", "ew"):
            raise InvalidFilter(f"'{op}' does not apply to a dateTime.")
        value = _parse_time(raw)
    elif not target.case_exact:
        value = raw.lower()
        if not target.folded:
            col = func.lower(col)
    if op == "eq":
        return col == value
    if op == "ne":
        return or_(col != value, target.column.is_(None))
    if op == "co":
        return col.contains(value, autoescape=True)
    if op == "sw":
        return col.startswith(value, autoescape=True)
    if op == "ew":
        return col.endswith(value, autoescape=True)
    ops = {"gt": col.__gt__, "ge": col.__ge__, "lt": col.__lt__, "le": col.__le__}
    if op in ops:
        return ops[op](value)
    raise InvalidFilter(f"Unknown operator '{op}'.")


class Compiler:
    """Compile a parsed filter for one resource type."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def compile(self, node: fast.AST, multi: Multi | None = None) -> ColumnElement:
        if isinstance(node, fast.Filter):
            if node.namespace is not None:
                expr = self._value_path(node.namespace, node.expr)
            else:
                expr = self.compile(node.expr, multi)
            return not_(expr) if node.negated else expr
        if isinstance(node, fast.LogExpr):
            a, b = self.compile(node.expr1, multi), self.compile(node.expr2, multi)
            return and_(a, b) if node.op.lower() == "and" else or_(a, b)
        if isinstance(node, fast.AttrExpr):
            return self._attr_expr(node, multi)
        raise InvalidFilter("The filter is not valid SCIM filter syntax.")

    def _value_path(self, path: fast.AttrPath, inner: fast.AST,
                    extra: tuple[str, str, str | None] | None = None) -> ColumnElement:
        if not isinstance(path.attr_name, str):
            raise InvalidFilter("Nested value paths are not supported.")
        m = resolve(self.kind, path.attr_name, None, path.uri)
        if not isinstance(m, Multi):
            raise InvalidFilter(f"'{path.attr_name}' is not multi-valued.")
        cond = self.compile(inner, m)
        if extra is not None:
            sub, op, raw = extra
            cond = and_(cond, compare(self._sub(m, sub), op, raw))
        return m.exists(cond)

    def _sub(self, m: Multi, sub: str | None) -> Scalar:
        s = m.subs.get((sub or "value").lower())
        if s is None:
            raise InvalidFilter(f"Unknown sub-attribute '{sub}'.")
        return s

    def _attr_expr(self, node: fast.AttrExpr, multi: Multi | None) -> ColumnElement:
        path = node.attr_path
        raw = node.comp_value.value if node.comp_value is not None else None
        if isinstance(path.attr_name, fast.Filter):
            # emails[type eq "work"].value eq "x": the parser moved ".value" onto the namespace.
            ns = path.attr_name.namespace
            sub = ns.sub_attr.value if ns.sub_attr else None
            ns_plain = fast.AttrPath(ns.attr_name, None, ns.uri)
            return self._value_path(ns_plain, path.attr_name.expr, (sub, node.value, raw))
        sub = path.sub_attr.value if path.sub_attr else None
        if multi is not None:
            # Inside a value path: names are sub-attributes of the multi-valued attribute.
            if sub is not None or path.uri:
                raise InvalidFilter("A value filter names sub-attributes only.")
            return compare(self._sub(multi, path.attr_name), node.value, raw)
        target = resolve(self.kind, path.attr_name, sub, path.uri)
        if isinstance(target, Multi):
            return target.exists(compare(self._sub(target, sub), node.value, raw))
        return compare(target, node.value, raw)


def where(kind: str, text: str | None) -> ColumnElement:
    """The WHERE condition for a filter string (true when there is none)."""
    if text is None or not str(text).strip():
        return true()
    return Compiler(kind).compile(parse(text))


def sort_column(kind: str, sort_by: str) -> Any:
    """The column ``sortBy`` names; multi-valued attributes are not sortable here."""
    from .errors import InvalidValue
    parts = sort_by.strip()
    uri = None
    low = parts.lower()
    for u in (CORE_USER, ENTERPRISE, CORE_GROUP):
        if low.startswith(u.lower() + ":"):
            uri, parts = u, parts[len(u) + 1:]
    name, _, sub = parts.partition(".")
    try:
        target = resolve(kind, name, sub or None, uri)
    except InvalidFilter:
        raise InvalidValue(f"Cannot sort by '{sort_by}'.") from None
    if not isinstance(target, Scalar):
        raise InvalidValue(f"Cannot sort by the multi-valued '{sort_by}'.")
    return target.column if target.case_exact or target.folded or target.type != "string" \
        else func.lower(target.column)


__all__ = ["where", "parse", "compare", "sort_column", "resolve"]
