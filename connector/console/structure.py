"""Sub-organizations (the tree, create, move) and the roles-and-permissions matrix."""
from __future__ import annotations

from flask import flash, g, render_template, request

from .. import db, orgs, roles
from ..errors import Forbidden, InvalidInput
from ..events import record
from ..identity import Source
from . import bp
from .common import actor_for, attempt, back, org_page


@bp.get("/orgs/<account>/suborganizations")
@org_page("org.view")
def suborgs(org):
    nodes = orgs.subtree(db.session(), org)
    return render_template("console/suborgs.html", org=org, nodes=nodes,
                           max_depth=orgs.MAX_DEPTH,
                           parents=[n for n in nodes if n.depth < orgs.MAX_DEPTH],
                           movable=[n for n in nodes if n.id != org.id])


def _node(session, org, account: str | None):
    """An organization inside ``org``'s subtree, or a sentence saying it is not there."""
    node = orgs.get_org(session, (account or "").strip())
    if node is None or not orgs.is_within(node, org):
        raise InvalidInput("Choose an organization inside this one.", code="org_not_found")
    return node


@bp.post("/orgs/<account>/suborganizations")
@org_page("suborgs.manage")
def create_suborg(org):
    f = request.form

    def create(session):
        parent = _node(session, org, f.get("parent") or org.account)
        return orgs.create_org(session, (f.get("account") or "").strip().lower(),
                               f.get("name", ""), description=f.get("description", ""),
                               parent=parent, actor=actor_for(org))
    attempt(create, f"Sub-organization {f.get('account', '').strip().lower()} created.")
    return back("console.suborgs")


@bp.post("/orgs/<account>/suborganizations/move")
@org_page("suborgs.manage")
def move_suborg(org):
    f = request.form

    def move(session):
        node = _node(session, org, f.get("org"))
        if node.id == org.id:
            raise Forbidden("An organization cannot move itself from its own console.",
                            code="permission_denied")
        return orgs.move_org(session, node, _node(session, org, f.get("parent")),
                             actor=actor_for(org))
    attempt(move, "Moved.")
    return back("console.suborgs")


@bp.get("/orgs/<account>/roles")
@org_page("members.view")
def roles_page(org):
    return render_template("console/roles.html", org=org, ranks=roles.RANKS,
                           permissions=roles.PERMISSIONS, owner_only=roles.OWNER_ONLY,
                           actor_rank=actor_for(org).rank,
                           matrix=roles.role_permissions(db.session(), org.id))


@bp.post("/orgs/<account>/roles")
@org_page("roles.manage")
def save_roles(org):
    editable = [r for r in roles.RANKS if r != "owner"]
    wanted = {r: [p for p in request.form.getlist(f"perm_{r}") if p not in roles.OWNER_ONLY]
              for r in editable}

    def save(session):
        actor = actor_for(org)
        for role, perms in wanted.items():
            # No escalation: nobody edits a role ranked above their own.
            if roles.RANKS[role] > actor.rank:
                continue
            beyond = set(perms) - g.perms
            if beyond:
                raise Forbidden("You can only give permissions you have yourself: "
                                f"{', '.join(sorted(beyond))}.", code="permission_escalation")
            new = roles.set_role_permissions(session, org, role, perms)
            record(session, org.id, "role.updated", source=Source.MANUAL, actor=actor.label,
                   target_type="role", target_id=role, permissions=sorted(new))
    if attempt(save, "Permissions saved.") is None:
        flash("Nothing was changed.", "error")
    return back("console.roles_page")
