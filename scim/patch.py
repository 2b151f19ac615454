"""The PATCH engine (RFC 7644 §3.5.2) over a canonical resource dict, plus the IdP quirks we
scrub at the edge. Group members are not in the dict: their changes come back as set
operations for the pipeline to apply as rows."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from scim2_filter_parser import ast as fast

from . import errors
from .filters import parse
from .resource import _coerce, canonicalize, coerce_bool
from .schemas import CORE, EXTENSIONS, PATCH_OP, sub_index

_NAME = r"[A-Za-z$][\w$-]*"
_PATH = re.compile(rf"^(?P<attr>{_NAME})(?:\[(?P<filter>.+)\])?(?:\.(?P<sub>{_NAME}))?$", re.S)
OPS = ("add", "replace", "remove")


@dataclass
class Path:
    uri: str | None         # extension URN, None for core attributes
    attr: str               # canonical name
    defn: dict | None       # None for unknown extension attributes
    filter: fast.AST | None
    sub: str | None


@dataclass
class MemberOps:
    """Group member changes: each entry is ("add"|"remove"|"replace", [scim ids])."""

    ops: list[tuple[str, list[str]]] = field(default_factory=list)


def parse_path(kind: str, text: str) -> Path:
    """Resolve a PATCH path (RFC 7644 §3.5.2 attrPath / valuePath) against the schema."""
    if not isinstance(text, str) or not text.strip():
        raise errors.InvalidPath("The path is empty.")
    text = text.strip()
    core_uri, index = CORE[kind]
    uri = None
    low = text.lower()
    for ext_low, (ext_uri, ext_index) in list(EXTENSIONS[kind].items()) + [
            (core_uri.lower(), (None, index))]:
        if low.startswith(ext_low + ":"):
            uri, index, text = ext_uri, ext_index, text[len(ext_low) + 1:]
            break
    else:
        if low.startswith("urn:"):
            ext, _, name = text.rpartition(":")
            return Path(ext, name, None, None, None)
    m = _PATH.match(text)
    if not m:
        raise errors.InvalidPath(f"'{text}' is not a valid attribute path.")
    defn = index.get(m["attr"].lower())
    if defn is None:
        raise errors.InvalidPath(f"Unknown attribute '{m['attr']}'.")
    if defn["mutability"] == "readOnly":
        raise errors.Mutability(f"'{defn['name']}' is read-only.")
    flt = parse(m["filter"]) if m["filter"] else None
    if flt is not None and not defn["multiValued"]:
        raise errors.InvalidPath(f"'{defn['name']}' is not multi-valued.")
    sub = None
    if m["sub"]:
        sd = sub_index(defn).get(m["sub"].lower())
        if sd is None:
            raise errors.InvalidPath(f"Unknown sub-attribute '{m['sub']}'.")
        sub = sd["name"]
    return Path(uri, defn["name"], defn, flt, sub)


def _matches(node: fast.AST, item: dict) -> bool:
    """Evaluate a value filter on one item of a multi-valued attribute (in memory: it is
    this one resource's own list, never the organization's users)."""
    if isinstance(node, fast.Filter):
        r = _matches(node.expr, item)
        return not r if node.negated else r
    if isinstance(node, fast.LogExpr):
        a, b = _matches(node.expr1, item), _matches(node.expr2, item)
        return (a and b) if node.op.lower() == "and" else (a or b)
    if isinstance(node, fast.AttrExpr) and isinstance(node.attr_path.attr_name, str):
        key = node.attr_path.attr_name.lower()
        actual = next((v for k, v in item.items() if k.lower() == key), None)
        op = node.value.lower()
        if op == "pr":
            return actual not in (None, "", [])
        raw = node.comp_value.value if node.comp_value else None
        if isinstance(actual, bool):
            return (actual == (raw == "true")) == (op == "eq")
        a, b = str(actual if actual is not None else "").lower(), str(raw or "").lower()
        return {"eq": a == b, "ne": a != b, "co": b in a, "sw": a.startswith(b),
                "ew": a.endswith(b), "gt": a > b, "ge": a >= b, "lt": a < b,
                "le": a <= b}.get(op, False)
    raise errors.InvalidFilter("Unsupported value filter.")


def _template(node: fast.AST) -> dict | None:
    """For ``emails[type eq "work"]``: the item an add/replace creates when none matches
    (Entra ID sends replace/add on such paths for values that do not exist yet)."""
    if isinstance(node, fast.Filter) and not node.negated:
        return _template(node.expr)
    if isinstance(node, fast.LogExpr) and node.op.lower() == "and":
        a, b = _template(node.expr1), _template(node.expr2)
        return {**a, **b} if a is not None and b is not None else None
    if isinstance(node, fast.AttrExpr) and node.value.lower() == "eq" and node.comp_value:
        raw = node.comp_value.value
        return {node.attr_path.attr_name: True if raw == "true" else False if raw == "false"
                else raw}
    return None


def _member_ids(node: fast.AST) -> list[str]:
    if isinstance(node, fast.Filter) and not node.negated:
        return _member_ids(node.expr)
    if isinstance(node, fast.LogExpr) and node.op.lower() == "or":
        return _member_ids(node.expr1) + _member_ids(node.expr2)
    if isinstance(node, fast.AttrExpr) and node.value.lower() == "eq" and \
            str(node.attr_path.attr_name).lower() == "value" and node.comp_value:
        return [node.comp_value.value]
    raise errors.InvalidFilter("Members are removed by value: members[value eq \"id\"].")


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    out = []
    for i in items:
        v = i.get(next((k for k in i if k.lower() == "value"), "value")) if isinstance(i, dict) \
            else i
        if not isinstance(v, str) or not v:
            raise errors.InvalidValue("Each member needs a 'value' (a User id).")
        out.append(v)
    return out


def _container(data: dict, path: Path, create: bool) -> dict | None:
    if path.uri is None:
        return data
    if path.uri not in data and create:
        data[path.uri] = {}
    return data.get(path.uri)


def _apply_one(kind: str, data: dict, op: str, path: Path, value: Any, members: MemberOps) -> None:
    if kind == "Group" and path.attr == "members" and path.uri is None:
        if op == "remove" and path.filter is not None:
            members.ops.append(("remove", _member_ids(path.filter)))
        elif op == "remove" and value is None:
            members.ops.append(("replace", []))
        else:
            # Entra ID removes members with path "members" and a value list.
            members.ops.append((op if op != "add" else "add", _values(value)))
        return
    box = _container(data, path, create=op != "remove")
    if box is None:
        return
    d = path.defn
    if d is None:  # unknown extension attribute: kept as sent
        if op == "remove":
            box.pop(path.attr, None)
        else:
            box[path.attr] = value
        return
    name = d["name"]
    if op == "remove":
        if path.filter is None and path.sub is None:
            if d.get("required"):
                raise errors.InvalidValue(f"'{name}' is required and cannot be removed.")
            if d["multiValued"] and value is not None:
                drop = set(_values(value))
                box[name] = [i for i in box.get(name) or () if i.get("value") not in drop]
            else:
                box.pop(name, None)
        elif path.filter is None:
            if isinstance(box.get(name), dict):
                box[name].pop(path.sub, None)
            elif isinstance(box.get(name), list):
                for item in box[name]:
                    item.pop(path.sub, None)
        else:
            items = box.get(name) or []
            if path.sub is None:
                box[name] = [i for i in items if not _matches(path.filter, i)]
            else:
                for i in items:
                    if _matches(path.filter, i):
                        i.pop(path.sub, None)
        if box.get(name) in ([], {}):
            box.pop(name, None)
        return
    if path.filter is not None:
        items = box.setdefault(name, [])
        hits = [i for i in items if _matches(path.filter, i)]
        if not hits:
            tmpl = _template(path.filter)
            if tmpl is None:
                raise errors.NoTarget(f"No value of '{name}' matches the filter.")
            new = _coerce(d, [tmpl], name)[0]
            items.append(new)
            hits = [new]
        sub_defs = sub_index(d)
        for i in hits:
            if path.sub:
                i[path.sub] = _coerce(sub_defs[path.sub.lower()], value, f"{name}.{path.sub}")
            else:
                patch = _coerce(d, [value], name)[0]
                if op == "replace":
                    i.clear()
                i.update(patch)
        return
    if path.sub is not None:
        sd = sub_index(d)[path.sub.lower()]
        if d["multiValued"]:
            for i in box.get(name) or []:
                i[path.sub] = _coerce(sd, value, f"{name}.{path.sub}")
        else:
            box.setdefault(name, {})[path.sub] = _coerce(sd, value, f"{name}.{path.sub}")
        return
    new = _coerce(d, value, name)
    if new is None:
        box.pop(name, None)
    elif d["multiValued"] and op == "add":
        existing = box.setdefault(name, [])
        existing.extend(v for v in new if v not in existing)
    elif d["type"] == "complex" and op == "add" and isinstance(box.get(name), dict):
        box[name].update(new)
    else:
        box[name] = new
    _single_primary(box, d)


def _single_primary(box: dict, d: dict) -> None:
    """RFC 7643 §2.4: a new primary value demotes the previous one."""
    items = box.get(d["name"])
    if d["multiValued"] and isinstance(items, list):
        primaries = [i for i in items if isinstance(i, dict) and i.get("primary")]
        for i in primaries[:-1]:
            i["primary"] = False


def _pathless(kind: str, data: dict, op: str, value: Any, members: MemberOps) -> None:
    if not isinstance(value, dict):
        raise errors.InvalidValue("An operation without a path takes an object value.")
    for key, v in value.items():
        if key.lower() in ("schemas", "id", "meta"):
            # Okta's group push sends {"op": "replace", "value": {"id": ..., "displayName": ...}}:
            # the read-only id (unchanged) rides along; ignore it as PUT does (RFC 7644 §3.5.1).
            continue
        low = key.lower()
        if low in EXTENSIONS[kind] and isinstance(v, dict):
            for sk, sv in v.items():
                _apply_one(kind, data, op, parse_path(kind, f"{key}:{sk}"), sv, members)
            continue
        # Entra ID sends pathless replace values with dotted keys ("name.givenName") and
        # URN-prefixed keys ("urn:...:enterprise:2.0:User:department").
        p = parse_path(kind, key)
        if p.defn is not None and p.defn["type"] == "complex" and not p.defn["multiValued"] \
                and p.sub is None and op == "replace" and isinstance(v, dict):
            op_here = "add"  # replace of a complex attribute without path merges sub-attributes
        else:
            op_here = op
        _apply_one(kind, data, op_here, p, v, members)


def apply(kind: str, data: dict, body: Any) -> tuple[dict, MemberOps, str | None]:
    """Apply a PatchOp body; returns the new data, member operations and any new password."""
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("The request body must be a JSON object.")
    schemas = body.get("schemas") or body.get("Schemas")
    if not isinstance(schemas, list) or PATCH_OP not in schemas:
        raise errors.InvalidSyntax(f"A PATCH body must have schemas [\"{PATCH_OP}\"].")
    ops = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(ops, list) or not ops:
        raise errors.InvalidSyntax("A PATCH body needs a non-empty 'Operations' list.")
    data = copy.deepcopy(data)
    members = MemberOps()
    password = None
    for raw in ops:
        if not isinstance(raw, dict):
            raise errors.InvalidSyntax("Each operation is an object.")
        o = {k.lower(): v for k, v in raw.items()}
        op = str(o.get("op", "")).lower()  # Entra ID sends "Replace", "Add", "Remove"
        if op not in OPS:
            raise errors.InvalidSyntax(f"Unknown op '{o.get('op')}'.")
        path, value = o.get("path"), o.get("value")
        if op != "remove" and "value" not in o:
            raise errors.InvalidValue(f"A '{op}' operation needs a value.")
        if not path:
            if op == "remove":
                raise errors.NoTarget("A remove operation needs a path (RFC 7644 §3.5.2.2).")
            if kind == "User" and isinstance(value, dict):
                pw = next((k for k in value if k.lower() == "password"), None)
                if pw:
                    value = dict(value)
                    password = str(value.pop(pw))
            _pathless(kind, data, op, value, members)
            continue
        p = parse_path(kind, path)
        if kind == "User" and p.attr == "password" and p.uri is None:
            password = None if op == "remove" else str(value)
            continue
        if p.defn is not None and p.defn["type"] == "boolean" and op != "remove":
            value = coerce_bool(value, p.attr)
        _apply_one(kind, data, op, p, value, members)
    # Re-canonicalize the result so every type rule holds as for PUT.
    out = canonicalize(kind, data, keep_readonly=False)
    return out, members, password
