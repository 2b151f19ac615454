"""Members of an organization: search and filter, and one-by-one or bulk changes."""
from __future__ import annotations

from flask import flash, render_template, request

from .. import db, members, pipeline
from ..errors import Conflict, Forbidden, InvalidInput
from ..identity import Identity, Source
from ..models import MembershipStatus
from ..roles import RANKS
from . import bp
from .common import actor_for, attempt, back, org_page
from .passwords import send_reset_email

PAGE = 50
STATUSES = [s.value for s in MembershipStatus]
SOURCES = [s.value for s in Source]
BULK_ACTIONS = {"deactivate": "Deactivate", "reactivate": "Reactivate", "remove": "Remove"}


@bp.get("/orgs/<account>/members")
@org_page("members.view")
def members_page(org):
    return _render(org)


def _render(org, temp_password: tuple[str, str] | None = None):
    a = request.args
    filters = {k: a.get(k) or None for k in ("role", "status", "source", "q")}
    if filters["role"] not in RANKS:
        filters["role"] = None
    found = members.list_members(db.session(), org, after=a.get("after", 0, type=int),
                                 limit=PAGE + 1, **filters)
    more = len(found) > PAGE
    found = found[:PAGE]
    actor = actor_for(org)
    grantable = [r for r, rank in RANKS.items() if rank <= actor.rank]
    return render_template(
        "console/members.html", org=org, rows=found, filters=filters, statuses=STATUSES,
        sources=SOURCES, roles=list(RANKS), grantable=grantable, actor_rank=actor.rank,
        ranks=RANKS, bulk_actions=BULK_ACTIONS, temp_password=temp_password,
        next_after=found[-1].user_id if more and found else None)


@bp.post("/orgs/<account>/members/add")
@org_page("members.manage")
def add_member(org):
    f = request.form
    email = (f.get("email") or "").strip() or None
    attempt(lambda s: members.add_member(s, org, actor=actor_for(org), email=email,
                                         role=f.get("role") or None),
            f"{email} is a member now.")
    return back("console.members_page")


@bp.post("/orgs/<account>/members/<int:user_id>/role")
@org_page("members.manage")
def change_role(org, user_id):
    role = request.form.get("role", "")
    attempt(lambda s: pipeline.set_role(s, org, user_id, role, actor=actor_for(org)),
            f"Role changed to {role}.")
    return back("console.members_page")


@bp.post("/orgs/<account>/members/<int:user_id>/status")
@org_page("members.manage")
def change_status(org, user_id):
    wanted = request.form.get("status")
    attempt(lambda s: _set_status(s, org, [user_id], wanted),
            "Member reactivated." if wanted == "active" else "Member deactivated.")
    return back("console.members_page")


@bp.post("/orgs/<account>/members/<int:user_id>/remove")
@org_page("members.manage")
def remove(org, user_id):
    attempt(lambda s: pipeline.remove_member(s, org, user_id, actor=actor_for(org)),
            "Member removed.")
    return back("console.members_page")


@bp.post("/orgs/<account>/members/<int:user_id>/reset-password")
@org_page("members.manage")
def reset_member_password(org, user_id):
    """Email a reset link; an account without email (generated) gets a temporary password."""
    shown = attempt(lambda s: _reset(s, org, user_id))
    if isinstance(shown, tuple):
        # Rendered in this response, never redirected: the password is in no URL, log or cookie.
        return _render(org, temp_password=shown)
    return back("console.members_page")


@bp.post("/orgs/<account>/members/bulk")
@org_page("members.manage")
def bulk(org):
    ids = [int(v) for v in request.form.getlist("user_id") if v.isdigit()]
    action = request.form.get("action", "")
    if not ids:
        flash("Select at least one member first.", "error")
        return back("console.members_page")

    def run(session):
        actor = actor_for(org)
        if action.startswith("role:"):
            for uid in ids:
                pipeline.set_role(session, org, uid, action[5:], actor=actor)
        elif action == "remove":
            for uid in ids:
                pipeline.remove_member(session, org, uid, actor=actor)
        elif action in ("deactivate", "reactivate"):
            _set_status(session, org, ids, "active" if action == "reactivate" else "deactivated")
        else:
            raise InvalidInput("Choose what to do with the selected members.",
                               code="invalid_action")
    # One transaction: either every selected member changes or none does.
    attempt(run, f"Done for {len(ids)} member(s).")
    return back("console.members_page")


def _set_status(session, org, user_ids: list[int], wanted: str | None) -> None:
    actor = actor_for(org)
    if wanted == "deactivated":
        for uid in user_ids:
            m = members.require_member(session, org, uid)
            if RANKS[m.role] > actor.rank:
                raise Forbidden("You cannot change a member whose role is above yours.",
                                code="role_escalation")
        pipeline.deprovision(session, org, user_ids, actor=actor, source=Source.MANUAL,
                             mode="deactivate")
    elif wanted == "active":
        results = pipeline.provision(session, org, [Identity(user_id=u, active=True)
                                                    for u in user_ids],
                                     source=Source.MANUAL, actor=actor)
        bad = [r for r in results if not r.ok]
        if bad:
            raise Conflict(bad[0].message, code=bad[0].reason.value)
    else:
        raise InvalidInput("Status is active or deactivated.", code="invalid_status")


def _reset(session, org, user_id: int) -> tuple[str, str] | None:
    m = members.require_member(session, org, user_id)
    actor = actor_for(org)
    if RANKS[m.role] > actor.rank:
        raise Forbidden("You cannot reset the password of a member above your role.",
                        code="role_escalation")
    user = m.user
    if user.email:
        send_reset_email(session, user)
        flash(f"A password reset link is on its way to {user.email}.", "ok")
        return None
    # An email-less (generated) account gets a new temporary password; the accounts service
    # checks that this organization created it and that SCIM/LDAP does not manage it.
    from ..accounts import service as accounts
    user, temp = accounts.reset_password(session, org, user.id, actor=actor)
    return user.username or str(user.id), temp
