"""The admin REST API, /api/v1: organization API keys, JSON in and out, stable error codes."""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, jsonify, request

from .. import credentials, db, members, orgs, pipeline, roles
from ..errors import ConnectorError, Forbidden, InvalidInput, NotFound, Unauthorized
from ..identity import Actor, Identity, Source
from ..models import Credential, CredentialKind, Organization
from . import serialize as s
from .openapi import spec as openapi_spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass
class Caller:
    key: Credential
    home: Organization   # the organization the key belongs to; it reaches its subtree
    actor: Actor


def _caller(session) -> Caller:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an organization API key as 'Authorization: Bearer <key>'.",
                           code="missing_token")
    key = credentials.authenticate(session, CredentialKind.API_KEY, token.strip())
    home = session.get(Organization, key.organization_id)
    # An API key acts like an admin: it never grants owner.
    return Caller(key, home, Actor(f"api_key:{key.id}", rank=roles.RANKS["admin"]))


def _scoped(session, caller: Caller, account: str, permission: str) -> Organization:
    org = orgs.get_org(session, account)
    # Another tenant's organization is indistinguishable from a missing one.
    if org is None or not orgs.is_within(org, caller.home):
        raise NotFound(f"Organization {account!r} not found.", code="org_not_found")
    if permission not in caller.key.permissions:
        raise Forbidden(f"This API key lacks the {permission!r} permission.",
                        code="permission_denied")
    return org


def endpoint(permission: str | None):
    """Authenticate, open the transaction, resolve ``account`` with ``permission``."""
    def wrap(fn):
        @wraps(fn)
        def view(**kwargs):
            with db.transaction() as session:
                caller = _caller(session)
                if "account" in kwargs:
                    kwargs["org"] = _scoped(session, caller, kwargs.pop("account"), permission)
                return fn(session, caller, **kwargs)
        return view
    return wrap


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="invalid_json")
    return data


@bp.errorhandler(ConnectorError)
def _domain_error(err: ConnectorError):
    payload = {"error": {"code": err.code, "message": err.message}}
    if err.details:
        payload["error"]["details"] = err.details
    return jsonify(payload), err.status


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_spec())


@bp.get("/organizations")
@endpoint(None)
def list_orgs(session, caller):
    if "org.view" not in caller.key.permissions:
        raise Forbidden("This API key lacks the 'org.view' permission.", code="permission_denied")
    found = orgs.list_orgs(session, within=caller.home,
                           account_contains=request.args.get("account_contains"))
    return jsonify({"organizations": [s.org(o) for o in found]})


@bp.post("/organizations")
@endpoint(None)
def create_org(session, caller):
    data = body()
    parent = _scoped(session, caller, str(data.get("parent") or ""), "suborgs.manage") \
        if data.get("parent") else None
    if parent is None:
        raise InvalidInput("An API key creates sub-organizations: give 'parent'.",
                           code="parent_required")
    org = orgs.create_org(session, data.get("account", ""), data.get("name", ""),
                          description=data.get("description", ""), parent=parent,
                          actor=caller.actor, seat_limit=data.get("seat_limit"))
    return jsonify(s.org(org)), 201


@bp.get("/organizations/<account>")
@endpoint("org.view")
def show_org(session, caller, org):
    out = s.org(org)
    out["seats_used"] = orgs.seats_used(session, org)
    return jsonify(out)


@bp.patch("/organizations/<account>")
@endpoint("org.manage")
def update_org(session, caller, org):
    orgs.update_org(session, org, body(), actor=caller.actor)
    return jsonify(s.org(org))


@bp.delete("/organizations/<account>")
@endpoint("org.view")
def delete_org(session, caller, org):
    # Seed documents: only the owner deletes; a key is never the owner.
    orgs.delete_org(session, org, actor=caller.actor)
    return "", 204


@bp.post("/organizations/<account>/move")
@endpoint("suborgs.manage")
def move_org(session, caller, org):
    if org.id == caller.home.id:
        raise Forbidden("A key cannot move its own organization.", code="permission_denied")
    parent = _scoped(session, caller, str(body().get("parent") or ""), "suborgs.manage")
    orgs.move_org(session, org, parent, actor=caller.actor)
    return jsonify(s.org(org))


@bp.get("/organizations/<account>/members")
@endpoint("members.view")
def list_members(session, caller, org):
    a = request.args
    found = members.list_members(session, org, role=a.get("role"), status=a.get("status"),
                                 source=a.get("source"), q=a.get("q"),
                                 after=a.get("after", 0, type=int),
                                 limit=a.get("limit", 100, type=int))
    return jsonify({"members": [s.member(m) for m in found],
                    "next_after": found[-1].user_id if found else None})


@bp.post("/organizations/<account>/members")
@endpoint("members.manage")
def add_member(session, caller, org):
    d = body()
    result = members.add_member(session, org, actor=caller.actor, email=d.get("email"),
                                username=d.get("username"), user_id=d.get("user_id"),
                                role=d.get("role"), given_name=d.get("given_name"),
                                family_name=d.get("family_name"))
    out = s.member(members.require_member(session, org, result.user_id))
    out["outcome"] = result.outcome.value
    return jsonify(out), 201 if result.outcome.value in ("created", "joined") else 200


@bp.get("/organizations/<account>/members/<int:user_id>")
@endpoint("members.view")
def show_member(session, caller, org, user_id):
    return jsonify(s.member(members.require_member(session, org, user_id)))


@bp.patch("/organizations/<account>/members/<int:user_id>")
@endpoint("members.manage")
def update_member(session, caller, org, user_id):
    d = body()
    unknown = set(d) - {"role", "status"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.", code="unknown_field")
    members.require_member(session, org, user_id)
    if "role" in d:
        pipeline.set_role(session, org, user_id, str(d["role"]), actor=caller.actor)
    if "status" in d:
        if d["status"] == "deactivated":
            pipeline.deprovision(session, org, [user_id], actor=caller.actor,
                                 source=Source.MANUAL, mode="deactivate")
        elif d["status"] == "active":
            [r] = pipeline.provision(session, org, [Identity(user_id=user_id, active=True)],
                                     source=Source.MANUAL, actor=caller.actor)
            if not r.ok:
                raise ConnectorError(r.message, code=r.reason.value)
        else:
            raise InvalidInput("status is 'active' or 'deactivated'.", code="invalid_status")
    # Read back what the pipeline wrote: flush the ORM changes first (expiring unflushed
    # objects would drop them), then expire so the bulk-written rows reload.
    session.flush()
    session.expire_all()
    return jsonify(s.member(members.require_member(session, org, user_id)))


@bp.delete("/organizations/<account>/members/<int:user_id>")
@endpoint("members.manage")
def remove_member(session, caller, org, user_id):
    pipeline.remove_member(session, org, user_id, actor=caller.actor)
    return "", 204


@bp.get("/organizations/<account>/roles")
@endpoint("members.view")
def list_roles(session, caller, org):
    perms = roles.role_permissions(session, org.id)
    return jsonify({"roles": [{"name": r, "rank": roles.RANKS[r], "permissions": sorted(perms[r])}
                              for r in roles.RANKS], "permissions": roles.PERMISSIONS})


@bp.put("/organizations/<account>/roles/<role>")
@endpoint("roles.manage")
def set_role_permissions(session, caller, org, role):
    perms = body().get("permissions")
    if not isinstance(perms, list):
        raise InvalidInput("'permissions' must be a list of permission names.",
                           code="invalid_permissions")
    new = roles.set_role_permissions(session, org, role, perms)
    from ..events import record
    record(session, org.id, "role.updated", source=Source.MANUAL, actor=caller.actor.label,
           target_type="role", target_id=role, permissions=sorted(new))
    return jsonify({"name": role, "permissions": sorted(new)})


@bp.get("/organizations/<account>/api-keys")
@endpoint("apikeys.manage")
def list_keys(session, caller, org):
    return jsonify({"api_keys": [s.credential(c) for c in credentials.list_credentials(
        session, org, CredentialKind.API_KEY)]})


@bp.post("/organizations/<account>/api-keys")
@endpoint("apikeys.manage")
def create_key(session, caller, org):
    d = body()
    perms = d.get("permissions") or []
    if not isinstance(perms, list) or not set(perms) <= set(caller.key.permissions):
        raise Forbidden("A key can only grant permissions it has itself.",
                        code="permission_escalation")
    cred, secret = credentials.create(session, org, CredentialKind.API_KEY,
                                      name=str(d.get("name") or ""), permissions=perms,
                                      actor=caller.actor)
    out = s.credential(cred)
    out["key"] = secret  # shown once
    return jsonify(out), 201


@bp.delete("/organizations/<account>/api-keys/<int:key_id>")
@endpoint("apikeys.manage")
def revoke_key(session, caller, org, key_id):
    credentials.revoke(session, org, CredentialKind.API_KEY, key_id, actor=caller.actor)
    return "", 204


@bp.get("/organizations/<account>/audit")
@endpoint("audit.view")
def audit(session, caller, org):
    a = request.args
    found = members.audit_events(session, org, action=a.get("action"), source=a.get("source"),
                                 actor=a.get("actor"), before=a.get("before", type=int),
                                 limit=a.get("limit", 100, type=int))
    return jsonify({"events": [s.event(e) for e in found]})

from . import ldap as _ldap  # noqa: E402,F401  (LDAP directory sources)
from . import imports as _imports  # noqa: E402,F401  (CSV import, generated accounts, jobs)
from . import sso as _sso  # noqa: E402,F401  (SSO connections, attempts, domains)
from . import scim_tokens as _scim_tokens  # noqa: E402,F401  (SCIM tokens, group mappings)
from . import invites as _invites  # noqa: E402,F401  (invite codes, invitations, webhooks)
