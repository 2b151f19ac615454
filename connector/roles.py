"""Built-in roles and their permissions; an organization may tune non-owner roles."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import Forbidden, InvalidInput, NotFound
from .models import Organization, Role, RolePermission

PERMISSIONS: dict[str, str] = {
    "org.view": "See the organization and its sub-organizations",
    "org.manage": "Edit the organization's name, description and settings",
    "org.delete": "Delete the organization (owner only)",
    "org.transfer": "Transfer ownership (owner only)",
    "members.view": "See members and their roles",
    "members.manage": "Add, remove, deactivate members and change their roles",
    "roles.manage": "Tune the permissions of non-owner roles",
    "invites.manage": "Create invite codes and send email invitations",
    "imports.run": "Import users from CSV and generate accounts",
    "sso.manage": "Configure SSO connections and verified domains",
    "scim.manage": "Create and revoke SCIM tokens",
    "ldap.manage": "Configure and run directory sync",
    "suborgs.manage": "Create, move and edit sub-organizations",
    "apikeys.manage": "Create and revoke API keys",
    "webhooks.manage": "Configure webhooks",
    "audit.view": "Read the audit log",
}

# Seed documents: only the owner deletes the organization or transfers ownership.
OWNER_ONLY = frozenset({"org.delete", "org.transfer"})

RANKS: dict[str, int] = {"owner": 40, "admin": 30, "staff": 20, "member": 10}
ADMIN_ROLES = frozenset({"owner", "admin"})

DEFAULT_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset(PERMISSIONS),
    "admin": frozenset(PERMISSIONS) - OWNER_ONLY,
    "staff": frozenset({"org.view", "members.view", "invites.manage", "audit.view"}),
    "member": frozenset({"org.view"}),
}


def require_role_name(name: str) -> str:
    """Validate a role name and return it."""
    if name not in RANKS:
        raise InvalidInput(f"Unknown role {name!r}; roles are {', '.join(RANKS)}.",
                           code="unknown_role")
    return name


def validate_permissions(perms: list[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    """Check permission names exist."""
    unknown = sorted(set(perms) - set(PERMISSIONS))
    if unknown:
        raise InvalidInput(f"Unknown permission(s): {', '.join(unknown)}.",
                           code="unknown_permission")
    return frozenset(perms)


def create_builtin_roles(session: Session, org: Organization) -> None:
    """Give a new organization the four built-in roles with default permissions."""
    for name, rank in RANKS.items():
        role = Role(organization_id=org.id, name=name, rank=rank)
        role.permissions = [RolePermission(permission=p)
                            for p in sorted(DEFAULT_PERMISSIONS[name])]
        session.add(role)


def role_permissions(session: Session, org_id: int) -> dict[str, frozenset[str]]:
    """Permissions of each role in one organization."""
    roles = session.scalars(select(Role).where(Role.organization_id == org_id)).all()
    return {r.name: frozenset(p.permission for p in r.permissions) for r in roles}


def set_role_permissions(session: Session, org: Organization, role_name: str,
                         perms: list[str]) -> frozenset[str]:
    """Replace the permissions of a non-owner role of ``org``."""
    require_role_name(role_name)
    wanted = validate_permissions(perms)
    if role_name == "owner":
        raise Forbidden("The owner role always has every permission.", code="owner_role_fixed")
    if wanted & OWNER_ONLY:
        raise Forbidden(f"{', '.join(sorted(wanted & OWNER_ONLY))} belong(s) to the owner only.",
                        code="owner_only_permission")
    role = session.scalar(select(Role).where(Role.organization_id == org.id,
                                             Role.name == role_name))
    if role is None:
        raise NotFound(f"Role {role_name!r} not found.")
    role.permissions = [RolePermission(permission=p) for p in sorted(wanted)]
    return wanted
