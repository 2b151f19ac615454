"""/Bulk (RFC 7644 §3.7): operations in order, each in its own savepoint, ``bulkId``
cross-references resolved as their targets are created, ``failOnErrors`` honoured."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from connector.errors import ConnectorError

from . import errors, service
from .context import Tenant, etag
from .schemas import BULK_REQUEST, BULK_RESPONSE

_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$")
_REF = re.compile(r"bulkId:([\w.\-~]+)")


class Unresolved(Exception):
    """The operation names a bulkId not created (yet)."""


def _resolve(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in ids:
                raise Unresolved(m.group(1))
            return ids[m.group(1)]
        return _REF.sub(sub, value)
    if isinstance(value, list):
        return [_resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, ids) for k, v in value.items()}
    return value


def _one(session: Session, t: Tenant, op: dict, ids: dict[str, str]) -> dict:
    method = str(op.get("method", "")).upper()
    m = _PATH.match(_resolve(str(op.get("path", "")), ids))
    if method not in ("POST", "PUT", "PATCH", "DELETE") or not m:
        raise errors.InvalidSyntax("Each operation needs a method and a /Users or /Groups path.")
    kind = "User" if m.group(1) == "Users" else "Group"
    scim_id = m.group(2)
    data = _resolve(op.get("data"), ids)
    version = op.get("version")
    out: dict[str, Any] = {"method": method}
    if op.get("bulkId"):
        out["bulkId"] = op["bulkId"]
    if method == "POST":
        if scim_id:
            raise errors.InvalidSyntax("POST takes a collection path.")
        if not op.get("bulkId"):
            raise errors.InvalidSyntax("A bulk POST needs a bulkId (RFC 7644 §3.7).")
        obj = service.create(session, t, kind, data)
        new_id = obj.scim_id if kind == "User" else obj.external_id
        ids[op["bulkId"]] = new_id
        out.update(location=t.location(kind, new_id), version=etag(obj.version), status="201")
        return out
    if not scim_id:
        raise errors.InvalidSyntax(f"{method} takes a resource path.")
    if method == "DELETE":
        service.delete(session, t, kind, scim_id, version)
        out.update(location=t.location(kind, scim_id), status="204")
        return out
    fn = service.replace if method == "PUT" else service.patch
    obj = fn(session, t, kind, scim_id, data, version)
    out.update(location=t.location(kind, scim_id), version=etag(obj.version), status="200")
    return out


def run(session: Session, t: Tenant, body: Any, max_operations: int) -> dict:
    if not isinstance(body, dict) or BULK_REQUEST not in (body.get("schemas") or []):
        raise errors.InvalidSyntax(f"A bulk body needs schemas [\"{BULK_REQUEST}\"].")
    ops = body.get("Operations")
    if not isinstance(ops, list):
        raise errors.InvalidSyntax("A bulk body needs an 'Operations' list.")
    if len(ops) > max_operations:
        raise errors.PayloadTooLarge(f"More than maxOperations ({max_operations}) operations.")
    fail_on = body.get("failOnErrors")
    fail_on = int(fail_on) if isinstance(fail_on, int) and fail_on > 0 else None
    ids: dict[str, str] = {}
    results: dict[int, dict] = {}
    pending = list(range(len(ops)))
    failures = 0
    while pending and (fail_on is None or failures < fail_on):
        deferred = []
        for i in pending:
            if fail_on is not None and failures >= fail_on:
                break
            op = ops[i] if isinstance(ops[i], dict) else {}
            try:
                with session.begin_nested():
                    results[i] = _one(session, t, op, ids)
            except Unresolved:
                deferred.append(i)
            except (errors.ScimError, ConnectorError) as err:
                e = err if isinstance(err, errors.ScimError) else errors.from_domain(err)
                failures += 1
                results[i] = {"method": str(op.get("method", "")).upper(),
                              **({"bulkId": op["bulkId"]} if op.get("bulkId") else {}),
                              "status": str(e.status), "response": e.body()}
        if len(deferred) == len(pending):
            for i in deferred:  # circular or dangling bulkId references
                e = errors.InvalidValue("The bulkId it references was not created.")
                e.status = 409
                results[i] = {"method": str(ops[i].get("method", "")).upper(),
                              "status": "409", "response": e.body()}
            break
        pending = deferred
    return {"schemas": [BULK_RESPONSE],
            "Operations": [results[i] for i in sorted(results)]}
