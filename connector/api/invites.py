"""Admin API for invite codes, email invitations and webhooks (registered on the /api/v1 bp)."""
from __future__ import annotations

from flask import jsonify, request

from ..invites import codes, invitations
from ..invites import serialize as s
from ..models import User
from ..outbox import webhooks
from . import body, bp, endpoint

# -- invite codes --------------------------------------------------------------------------------


@bp.get("/organizations/<account>/invite-codes")
@endpoint("invites.manage")
def list_invite_codes(session, caller, org):
    return jsonify({"invite_codes": [s.code(c) for c in codes.list_codes(session, org)]})


@bp.post("/organizations/<account>/invite-codes")
@endpoint("invites.manage")
def create_invite_code(session, caller, org):
    d = body()
    cred, code = codes.create_code(
        session, org, actor=caller.actor, role=d.get("role"),
        sub_organization=d.get("sub_organization"), groups=d.get("groups"),
        allowed_domain=d.get("allowed_domain"), expires_days=d.get("expires_days"),
        max_uses=d.get("max_uses"), label=str(d.get("label") or ""))
    return jsonify(s.code(cred, code)), 201


@bp.delete("/organizations/<account>/invite-codes/<int:code_id>")
@endpoint("invites.manage")
def revoke_invite_code(session, caller, org, code_id):
    codes.require_code(session, org, code_id)
    codes.revoke_code(session, org, code_id, actor=caller.actor)
    return "", 204


@bp.post("/organizations/<account>/invite-codes/<int:code_id>/regenerate")
@endpoint("invites.manage")
def regenerate_invite_code(session, caller, org, code_id):
    cred, code = codes.regenerate_code(session, org, code_id, actor=caller.actor)
    return jsonify(s.code(cred, code)), 201


# -- invitations ---------------------------------------------------------------------------------


@bp.get("/organizations/<account>/invitations")
@endpoint("invites.manage")
def list_invitations(session, caller, org):
    a = request.args
    found = invitations.list_invitations(session, org, status=a.get("status"),
                                         after=a.get("after", 0, type=int),
                                         limit=a.get("limit", 100, type=int))
    return jsonify({"invitations": [s.invitation(i) for i in found],
                    "next_after": found[-1].id if found else None})


@bp.post("/organizations/<account>/invitations")
@endpoint("invites.manage")
def create_invitations(session, caller, org):
    d = body()
    addresses = d.get("emails") if d.get("emails") is not None else d.get("email", "")
    inviter = session.get(User, caller.key.user_id) if caller.key.user_id else None
    results = invitations.invite(
        session, org, addresses, actor=caller.actor, role=d.get("role"),
        sub_organization=d.get("sub_organization"), groups=d.get("groups"),
        message=str(d.get("message") or ""), expires_days=d.get("expires_days"),
        inviter=inviter)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return jsonify({"results": results, "counts": counts}), 201 if counts.get("invited") else 200


@bp.post("/organizations/<account>/invitations/<int:invitation_id>/resend")
@endpoint("invites.manage")
def resend_invitation(session, caller, org, invitation_id):
    inv = invitations.resend(session, org, invitation_id, actor=caller.actor)
    return jsonify(s.invitation(inv))


@bp.delete("/organizations/<account>/invitations/<int:invitation_id>")
@endpoint("invites.manage")
def revoke_invitation(session, caller, org, invitation_id):
    invitations.revoke(session, org, invitation_id, actor=caller.actor)
    return "", 204


# -- webhooks ------------------------------------------------------------------------------------


@bp.get("/organizations/<account>/webhooks")
@endpoint("webhooks.manage")
def list_webhooks(session, caller, org):
    return jsonify({"webhooks": [s.endpoint(e) for e in webhooks.list_endpoints(session, org)]})


@bp.post("/organizations/<account>/webhooks")
@endpoint("webhooks.manage")
def create_webhook(session, caller, org):
    d = body()
    ep = webhooks.add_endpoint(session, org, str(d.get("url") or ""), actor=caller.actor,
                               events=d.get("events"))
    return jsonify(s.endpoint(ep, with_secret=True)), 201


@bp.delete("/organizations/<account>/webhooks/<int:webhook_id>")
@endpoint("webhooks.manage")
def remove_webhook(session, caller, org, webhook_id):
    webhooks.remove_endpoint(session, org, webhook_id, actor=caller.actor)
    return "", 204


@bp.get("/organizations/<account>/webhooks/<int:webhook_id>/deliveries")
@endpoint("webhooks.manage")
def list_webhook_deliveries(session, caller, org, webhook_id):
    rows = webhooks.list_deliveries(session, org, webhook_id,
                                    limit=request.args.get("limit", 100, type=int))
    return jsonify({"deliveries": [s.delivery(d, st) for d, st in rows]})


@bp.post("/organizations/<account>/webhooks/deliveries/<int:delivery_id>/redeliver")
@endpoint("webhooks.manage")
def redeliver_webhook(session, caller, org, delivery_id):
    msg = webhooks.redeliver(session, org, delivery_id, actor=caller.actor)
    return jsonify({"outbox_message_id": msg.id, "status": "pending"}), 202
