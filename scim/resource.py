"""Canonical form of incoming resources: attribute names in their schema's spelling (names are
case-insensitive, RFC 7643 §2.1), values coerced to their type, read-only attributes dropped,
and the ``attributes``/``excludedAttributes`` projection of outgoing ones (RFC 7644 §3.9)."""
from __future__ import annotations

from typing import Any

from .errors import InvalidSyntax, InvalidValue
from .schemas import CORE, EXTENSIONS, sub_index

_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def coerce_bool(value: Any, name: str) -> bool:
    """A boolean, also from the strings Entra ID sends ("True", "False")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        # Entra ID sends booleans as strings in PATCH values (known issue, non-aadOptscim062020).
        return value.strip().lower() in _TRUE
    raise InvalidValue(f"'{name}' must be a boolean.")


def _coerce(defn: dict, value: Any, name: str, *, in_multi: bool = False) -> Any:
    if value is None:
        return None
    if defn["multiValued"] and not in_multi:
        items = value if isinstance(value, list) else [value]
        out = [_coerce(defn, v, name, in_multi=True) for v in items]
        return [v for v in out if v not in (None, {}, "")]
    t = defn["type"]
    if t == "complex":
        if not isinstance(value, dict):
            if isinstance(value, (str, int)) and "value" in sub_index(defn):
                # A bare value for a complex attribute: Entra ID sends the enterprise manager
                # as "manager": "<id>" (and multi-valued items as plain strings).
                return {"value": str(value)}
            raise InvalidValue(f"'{name}' must be an object.")
        return _complex(sub_index(defn), value, name)
    if t == "boolean":
        return coerce_bool(value, name)
    if t in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValue(f"'{name}' must be a number.")
        return value
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise InvalidValue(f"'{name}' must be a string.")
    return value if isinstance(value, str) else str(value)


def _complex(index: dict[str, dict], value: dict, name: str) -> dict:
    out: dict[str, Any] = {}
    for key, v in value.items():
        d = index.get(key.lower())
        if d is None:
            continue  # unknown sub-attribute: ignored (RFC 7644 §3.3 lets us)
        out[d["name"]] = _coerce(d, v, f"{name}.{d['name']}")
    return {k: v for k, v in out.items() if v is not None}


def canonicalize(kind: str, body: Any, *, keep_readonly: bool = False) -> dict[str, Any]:
    """The canonical form of a User or Group body (schemas, id and meta dropped)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    core_uri, index = CORE[kind]
    exts = EXTENSIONS[kind]
    out: dict[str, Any] = {}
    for key, value in body.items():
        low = key.lower()
        if low in ("schemas", "id", "meta"):
            continue
        if low in exts:
            uri, ext_index = exts[low]
            if value is None:
                continue
            if not isinstance(value, dict):
                raise InvalidValue(f"'{key}' must be an object.")
            out[uri] = _complex(ext_index, _manager(value), uri)
            continue
        if low.startswith("urn:"):
            if low == core_uri.lower() and isinstance(value, dict):
                # Core attributes nested under the core schema URN: flatten.
                out.update(canonicalize(kind, value, keep_readonly=keep_readonly))
                continue
            out[key] = value  # unknown extension: kept as sent (issue: never rejected)
            continue
        d = index.get(low)
        if d is None:
            continue
        if d["mutability"] == "readOnly" and not keep_readonly:
            continue  # RFC 7644 §3.5.1: read-only attributes in PUT/POST are ignored
        v = _coerce(d, value, d["name"])
        if v is not None:
            out[d["name"]] = v
    return out


def _manager(value: dict) -> dict:
    """Enterprise manager as a bare id (Entra ID sends "manager": "<id>") or {value}."""
    for key in list(value):
        if key.lower() == "manager" and isinstance(value[key], str):
            value = {**value, key: {"value": value[key]}}
    return value


def project(resource: dict[str, Any], attributes: list[str] | None,
            excluded: list[str] | None, default_excluded: set[str] = frozenset()) -> dict:
    """Apply ``attributes``/``excludedAttributes``; id, schemas and meta always stay."""
    always = {"id", "schemas", "meta"}
    if attributes:
        wanted = {a.lower() for a in attributes}
        out = {}
        for k, v in resource.items():
            low = k.lower()
            if k in always:
                out[k] = v
            elif low in wanted:
                out[k] = v
            elif isinstance(v, dict):
                subs = {s.split(".", 1)[1] if not low.startswith("urn:") else s[len(low) + 1:]
                        for s in wanted if s.startswith(low + (":" if low.startswith("urn:")
                                                                 else "."))}
                if subs:
                    out[k] = {sk: sv for sk, sv in v.items() if sk.lower() in subs}
        return out
    drop = {a.lower() for a in excluded or ()} | {d.lower() for d in default_excluded}
    out = {}
    for k, v in resource.items():
        low = k.lower()
        if low in drop and k not in always:
            continue
        if isinstance(v, dict) and k not in always:
            prefix = low + (":" if low.startswith("urn:") else ".")
            subs = {d[len(prefix):] for d in drop if d.startswith(prefix)}
            if subs:
                v = {sk: sv for sk, sv in v.items() if sk.lower() not in subs}
        out[k] = v
    return out


def split_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]
