"""Organization settings: name, limits, policies, domains, ownership transfer and deletion."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import db, members, orgs, pipeline
from ..errors import InvalidInput
from ..models import MembershipStatus, OrganizationDomain
from . import bp
from .common import actor_for, attempt, back, org_page

# What join_policy means to people; connector.pipeline enforces it (Policy.join_policy).
JOIN_POLICIES = {
    "invite_only": "Only people an admin invites or adds",
    "verified_domain": "Anyone signing in by SSO with a verified email on a verified domain",
    "closed": "Nobody new (existing members only)",
}


@bp.get("/orgs/<account>/settings")
@org_page("org.manage")
def settings(org):
    session = db.session()
    domains = session.scalars(select(OrganizationDomain).where(
        OrganizationDomain.organization_id == org.id).order_by(OrganizationDomain.domain)).all()
    others = [m for m in members.list_members(session, org, status=MembershipStatus.ACTIVE,
                                              limit=1000) if m.role != "owner"]
    return render_template("console/settings.html", org=org, domains=domains,
                           join_policies=JOIN_POLICIES, candidates=others,
                           policies=orgs.DEPROVISION_POLICIES,
                           default_roles=["member", "staff", "admin"],
                           settings=org.settings or {})


def _changes(form) -> dict:
    seat = (form.get("seat_limit") or "").strip()
    if seat and not seat.isdigit():
        raise InvalidInput("The seat limit is a whole number, or empty for no limit.",
                           code="invalid_seat_limit")
    policy = form.get("join_policy", "verified_domain")
    if policy not in JOIN_POLICIES:
        raise InvalidInput("Choose a join policy from the list.", code="invalid_join_policy")
    allowed = sorted({d.strip().lower().lstrip("@") for d in
                      (form.get("allowed_domains") or "").replace(",", "\n").splitlines()
                      if d.strip()})
    return {"name": form.get("name", ""), "description": form.get("description", ""),
            "seat_limit": int(seat) if seat else None,
            "default_role": form.get("default_role", "member"),
            "deprovision_policy": form.get("deprovision_policy", "deactivate"),
            "settings": {"join_policy": policy, "allowed_domains": allowed}}


@bp.post("/orgs/<account>/settings")
@org_page("org.manage")
def save_settings(org):
    attempt(lambda s: orgs.update_org(s, org, _changes(request.form), actor=actor_for(org)),
            "Settings saved.")
    return back("console.settings")


@bp.post("/orgs/<account>/transfer")
@org_page("org.transfer")
def transfer(org):
    to = request.form.get("user_id", type=int)
    if to is None:
        flash("Choose the member who becomes the owner.", "error")
        return back("console.settings")
    if attempt(lambda s: pipeline.transfer_ownership(s, org, to, actor=actor_for(org)),
               "Ownership transferred; you are an admin now.") is None:
        return back("console.settings")
    return back("console.overview")


@bp.post("/orgs/<account>/delete")
@org_page("org.delete")
def delete(org):
    if request.form.get("confirm_account", "").strip() != org.account:
        flash(f"Type {org.account} to confirm the deletion.", "error")
        return back("console.settings")
    done = attempt(lambda s: orgs.delete_org(s, org, actor=actor_for(org),
                                             cascade=bool(request.form.get("cascade"))),
                   f"{org.name} is deleted. Its account name stays reserved.")
    if done is None:
        return back("console.settings")
    return redirect(url_for("console.my_orgs", all=1), code=303)
