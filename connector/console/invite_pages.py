"""Invite codes and email invitations, over the invites service (connector/invites)."""
from __future__ import annotations

from flask import render_template, request

from .. import auth, db, orgs
from ..invites import codes, invitations
from ..roles import RANKS
from . import bp
from .common import NAV, actor_for, attempt, back, int_or_none, org_page

NAV.insert(2, ("console.invites", "Invites", "invites.manage"))
INVITATION_STATUSES = ["pending", "expired", "accepted", "revoked", "bounced"]


def _render(org, new_code: str | None = None, results: list[dict] | None = None):
    session = db.session()
    status = request.args.get("status") or None
    actor = actor_for(org)
    return render_template(
        "console/invites.html", org=org, codes=codes.list_codes(session, org),
        code_status=codes.status, new_code=new_code, results=results,
        invitations=invitations.list_invitations(session, org, status=status, limit=500),
        inv_status=invitations.effective_status, counts=invitations.count_by_status(session, org),
        statuses=INVITATION_STATUSES, status=status,
        roles=[r for r in RANKS if r != "owner" and RANKS[r] <= actor.rank],
        subs=[o for o in orgs.subtree(session, org) if o.id != org.id],
        join_url=request.host_url.rstrip("/") + "/join")


@bp.get("/orgs/<account>/invites")
@org_page("invites.manage")
def invites(org):
    return _render(org)


@bp.post("/orgs/<account>/invites/codes")
@org_page("invites.manage")
def create_code(org):
    f = request.form
    made = attempt(lambda s: codes.create_code(
        s, org, actor=actor_for(org), role=f.get("role") or None, label=f.get("label", ""),
        expires_days=int_or_none(f.get("expires_days")), max_uses=int_or_none(f.get("max_uses")),
        allowed_domain=f.get("allowed_domain") or None,
        sub_organization=f.get("sub_organization") or None))
    # Rendered in this response only: the code is stored hashed and never shown again.
    return _render(org, new_code=made[1]) if made else back("console.invites")


@bp.post("/orgs/<account>/invites/codes/<int:code_id>/revoke")
@org_page("invites.manage")
def revoke_code(org, code_id):
    attempt(lambda s: codes.revoke_code(s, org, code_id, actor=actor_for(org)),
            "The code is revoked; it no longer lets anyone join.")
    return back("console.invites")


@bp.post("/orgs/<account>/invites/codes/<int:code_id>/regenerate")
@org_page("invites.manage")
def regenerate_code(org, code_id):
    made = attempt(lambda s: codes.regenerate_code(s, org, code_id, actor=actor_for(org)))
    return _render(org, new_code=made[1]) if made else back("console.invites")


@bp.post("/orgs/<account>/invites/invitations")
@org_page("invites.manage")
def send_invitations(org):
    f = request.form
    results = attempt(lambda s: invitations.invite(
        s, org, f.get("addresses", ""), actor=actor_for(org), role=f.get("role") or None,
        message=f.get("message", ""), inviter=auth.current_user(),
        sub_organization=f.get("sub_organization") or None))
    return _render(org, results=results) if results else back("console.invites")


@bp.post("/orgs/<account>/invites/invitations/<int:inv_id>/resend")
@org_page("invites.manage")
def resend_invitation(org, inv_id):
    attempt(lambda s: invitations.resend(s, org, inv_id, actor=actor_for(org)),
            "A fresh link is on its way; the old one no longer works.")
    return back("console.invites")


@bp.post("/orgs/<account>/invites/invitations/<int:inv_id>/revoke")
@org_page("invites.manage")
def revoke_invitation(org, inv_id):
    attempt(lambda s: invitations.revoke(s, org, inv_id, actor=actor_for(org)),
            "The invitation is revoked.")
    return back("console.invites")
