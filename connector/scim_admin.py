"""Admin side of SCIM, shared by the API, the CLI and the console: tokens and group mappings.
(The SCIM protocol itself lives in the ``scim`` package; this module needs only the core.)"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import credentials, orgs, pipeline
from .errors import NotFound
from .identity import Actor, Result
from .models import Credential, CredentialKind, Group, Organization


def create_token(session: Session, org: Organization, name: str, *,
                 actor: Actor) -> tuple[Credential, str]:
    """A new SCIM token of ``org``; the secret is returned once and stored hashed."""
    return credentials.create(session, org, CredentialKind.SCIM_TOKEN, name=name or "scim",
                              actor=actor)


def list_tokens(session: Session, org: Organization) -> list[Credential]:
    return credentials.list_credentials(session, org, CredentialKind.SCIM_TOKEN)


def revoke_token(session: Session, org: Organization, token_id: int, *, actor: Actor) -> Credential:
    return credentials.revoke(session, org, CredentialKind.SCIM_TOKEN, token_id, actor=actor)


def require_group(session: Session, org: Organization, ref: str) -> Group:
    """A group of ``org`` by SCIM id (external id) or display name (any case)."""
    g = session.scalar(select(Group).where(Group.organization_id == org.id,
                                           Group.external_id == ref))
    if g is None:
        found = session.scalars(select(Group).where(
            Group.organization_id == org.id,
            func.lower(Group.display_name) == ref.strip().lower())).all()
        if len(found) > 1:
            raise NotFound(f"Several groups are named {ref!r}; use the group's id.",
                           code="ambiguous_group")
        g = found[0] if found else None
    if g is None:
        raise NotFound(f"No group {ref!r} in {org.account}.", code="group_not_found")
    return g


def map_group(session: Session, org: Organization, ref: str, *, role: str | None,
              sub_organization: str | None, actor: Actor) -> tuple[Group, list[Result]]:
    """Map a group to a role and/or sub-organization; its members get it at once."""
    group = require_group(session, org, ref)
    sub = orgs.require_org(session, sub_organization) if sub_organization else None
    results = pipeline.groups.map_group(session, org, group, role=role, sub_organization=sub,
                                        actor=actor)
    return group, results


def list_groups(session: Session, org: Organization) -> list[Group]:
    return list(session.scalars(select(Group).where(Group.organization_id == org.id)
                                .order_by(Group.display_name, Group.id)))


def group_json(session: Session, g: Group) -> dict:
    sub = session.get(Organization, g.sub_organization_id) if g.sub_organization_id else None
    return {"id": g.external_id, "display_name": g.display_name, "source": g.source,
            "role": g.role, "sub_organization": sub.account if sub else None}
