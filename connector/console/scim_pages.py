"""SCIM: the base URL an IdP needs, tokens (shown once), group mappings and recent changes."""
from __future__ import annotations

from flask import current_app, flash, render_template, request

from scim import requestlog

from .. import db, scim_admin
from ..identity import Source
from ..roles import RANKS
from . import bp, queries
from .common import NAV, actor_for, attempt, back, org_page

NAV.insert(6, ("console.scim", "SCIM", "scim.manage"))  # after SSO


def _render(org, secret: str | None = None):
    session = db.session()
    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/") + "/scim/v2"
    groups = scim_admin.list_groups(session, org)
    recent = list(session.scalars(queries.audit_query(org, source=Source.SCIM.value).limit(30)))
    return render_template(
        "console/scim.html", org=org, base_url=base, secret=secret,
        tokens=scim_admin.list_tokens(session, org),
        groups=[scim_admin.group_json(session, g) for g in groups],
        roles=[r for r in RANKS if r != "owner"], recent=recent,
        requests=requestlog.recent(session, org.id),
        people=queries.people(session, recent))


@bp.get("/orgs/<account>/scim")
@org_page("scim.manage")
def scim(org):
    return _render(org)


@bp.post("/orgs/<account>/scim/tokens")
@org_page("scim.manage")
def create_scim_token(org):
    made = attempt(lambda s: scim_admin.create_token(s, org, request.form.get("name", ""),
                                                     actor=actor_for(org)))
    # Rendered in this response only: the token is stored hashed and never shown again.
    return _render(org, secret=made[1]) if made else back("console.scim")


@bp.post("/orgs/<account>/scim/tokens/<int:token_id>/revoke")
@org_page("scim.manage")
def revoke_scim_token(org, token_id):
    attempt(lambda s: scim_admin.revoke_token(s, org, token_id, actor=actor_for(org)),
            "The token is revoked; the identity provider can no longer provision.")
    return back("console.scim")


@bp.post("/orgs/<account>/scim/groups/mapping")
@org_page("members.manage")
def map_scim_group(org):
    f = request.form
    done = attempt(lambda s: scim_admin.map_group(
        s, org, f.get("group", ""), role=f.get("role") or None,
        sub_organization=f.get("sub_organization") or None, actor=actor_for(org)))
    if done:
        group, results = done
        flash(f"{group.display_name}: mapping saved; {sum(r.ok for r in results)} member(s) "
              "updated.", "ok")
    return back("console.scim")
