"""``connector scim-token ...`` and ``connector scim ...``: SCIM tokens and group mappings."""
from __future__ import annotations

import click

from . import orgs, scim_admin
from .api import serialize as s
from .cli import OPERATOR, command, emit, json_option


@click.group("scim-token")
def scim_token_group() -> None:
    """SCIM tokens: the bearer secret an IdP (Entra ID, Okta) provisions with."""


@scim_token_group.command("create")
@click.argument("account")
@click.option("--name", default="scim", show_default=True)
@command
def scim_token_create(session, account, name):
    """Create a token; it is printed once, alone on the last line."""
    cred, secret = scim_admin.create_token(session, orgs.require_org(session, account), name,
                                           actor=OPERATOR)
    click.echo(f"SCIM token {cred.id} ({cred.name}) for {account}; base URL: <server>/scim/v2")
    click.echo("Copy it now: it will not be shown again.")
    click.echo(secret)


@scim_token_group.command("list")
@click.argument("account")
@json_option
@command
def scim_token_list(session, account, as_json):
    """List tokens (never their secrets)."""
    found = scim_admin.list_tokens(session, orgs.require_org(session, account))
    emit([s.credential(c) for c in found], as_json,
         ["id", "name", "hint", "created_at", "last_used_at", "revoked_at"])


@scim_token_group.command("revoke")
@click.argument("account")
@click.argument("token_id", type=int)
@command
def scim_token_revoke(session, account, token_id):
    """Revoke a token: the IdP's next request gets 401."""
    scim_admin.revoke_token(session, orgs.require_org(session, account), token_id,
                            actor=OPERATOR)
    click.echo(f"revoked SCIM token {token_id}")


@click.group("scim")
def scim_group() -> None:
    """SCIM groups and what they grant."""


@scim_group.command("groups")
@click.argument("account")
@json_option
@command
def scim_groups(session, account, as_json):
    """List the organization's groups with their mappings."""
    org = orgs.require_org(session, account)
    emit([scim_admin.group_json(session, g) for g in scim_admin.list_groups(session, org)],
         as_json, ["id", "display_name", "source", "role", "sub_organization"])


@scim_group.command("group-map")
@click.argument("account")
@click.argument("group")
@click.option("--role", help="Role the group's members get (admin, staff, member).")
@click.option("--sub-organization", "sub_organization",
              help="Account of a sub-organization the group's members join.")
@json_option
@command
def scim_group_map(session, account, group, role, sub_organization, as_json):
    """Map GROUP (id or display name) to a role and/or sub-organization."""
    g, results = scim_admin.map_group(session, orgs.require_org(session, account), group,
                                      role=role, sub_organization=sub_organization,
                                      actor=OPERATOR)
    out = scim_admin.group_json(session, g)
    out["members_updated"] = sum(1 for r in results if r.ok)
    out["members_rejected"] = sum(1 for r in results if not r.ok)
    emit(out, as_json)
