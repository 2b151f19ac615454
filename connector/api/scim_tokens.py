"""/api/v1 routes for SCIM: tokens and group -> role / sub-organization mappings."""
from __future__ import annotations

from flask import jsonify

from .. import scim_admin
from ..errors import InvalidInput
from . import body, bp, endpoint
from . import serialize as s


@bp.get("/organizations/<account>/scim-tokens")
@endpoint("scim.manage")
def list_scim_tokens(session, caller, org):
    return jsonify({"scim_tokens": [s.credential(c) for c in scim_admin.list_tokens(session, org)]})


@bp.post("/organizations/<account>/scim-tokens")
@endpoint("scim.manage")
def create_scim_token(session, caller, org):
    cred, secret = scim_admin.create_token(session, org, str(body().get("name") or ""),
                                           actor=caller.actor)
    out = s.credential(cred)
    out["token"] = secret  # shown once
    return jsonify(out), 201


@bp.delete("/organizations/<account>/scim-tokens/<int:token_id>")
@endpoint("scim.manage")
def revoke_scim_token(session, caller, org, token_id):
    scim_admin.revoke_token(session, org, token_id, actor=caller.actor)
    return "", 204


@bp.get("/organizations/<account>/scim-groups")
@endpoint("members.view")
def list_scim_groups(session, caller, org):
    return jsonify({"groups": [scim_admin.group_json(session, g)
                               for g in scim_admin.list_groups(session, org)]})


@bp.put("/organizations/<account>/scim-groups/<group>/mapping")
@endpoint("members.manage")
def map_scim_group(session, caller, org, group):
    d = body()
    unknown = set(d) - {"role", "sub_organization"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.", code="unknown_field")
    g, results = scim_admin.map_group(session, org, group, role=d.get("role"),
                                      sub_organization=d.get("sub_organization"),
                                      actor=caller.actor)
    out = scim_admin.group_json(session, g)
    out["results"] = [s.result(r) for r in results]
    return jsonify(out)
