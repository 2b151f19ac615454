"""Organizations: accounts, the tree (depth at most 4), settings, deletion and access reach."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import utcnow
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .events import record
from .identity import Actor, Identity, Source
from .models import Credential, Membership, MembershipStatus, Organization, User
from .roles import RANKS, create_builtin_roles, require_role_name, role_permissions

MAX_DEPTH = 4  # Blynk: "The maximum depth of organizations is four"
ACCOUNT_RE = re.compile(r"^[a-z0-9_]{2,36}$")
# Names that would collide with routes, well-known tenants or operator roles.
RESERVED = frozenset({
    "admin", "administrator", "api", "app", "auth", "connector", "console", "default", "help",
    "login", "logout", "me", "new", "null", "oauth", "openapi", "org", "orgs", "organization",
    "organizations", "platform", "root", "saml", "scim", "settings", "signin", "signup", "sso",
    "static", "support", "system", "undefined", "www", "healthz", "readyz", "metrics",
})
DEPROVISION_POLICIES = ("deactivate", "remove")
JOIN_POLICIES = ("verified_domain", "invite_only", "closed")
SETTING_KEYS = {"allowed_domains", "create_sources", "role_mapping", "join_policy",
                "delete_policy", "allow_any_invite_address", "require_sso"}


def validate_account(account: str) -> str:
    """Check an account name's form; return it."""
    if not isinstance(account, str) or not ACCOUNT_RE.match(account):
        raise InvalidInput("An organization account is 2-36 lowercase letters, digits or '_'.",
                           code="invalid_account")
    if account in RESERVED:
        raise InvalidInput(f"{account!r} is reserved; choose another account.",
                           code="reserved_account")
    return account


def get_org(session: Session, account: str) -> Organization | None:
    """A live organization by account, or None."""
    return session.scalar(select(Organization).where(Organization.account == account,
                                                     Organization.deleted_at.is_(None)))


def require_org(session: Session, account: str) -> Organization:
    org = get_org(session, account)
    if org is None:
        raise NotFound(f"Organization {account!r} not found.", code="org_not_found")
    return org


def create_org(session: Session, account: str, name: str, *, actor: Actor,
               description: str = "", parent: Organization | None = None,
               owner: User | None = None, owner_email: str | None = None,
               seat_limit: int | None = None) -> Organization:
    """Create an organization; the owner (a user, or an email to create/match) becomes owner."""
    validate_account(account)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("A name of 1-200 characters is required.", code="invalid_name")
    if parent is not None and parent.depth >= MAX_DEPTH:
        raise InvalidInput(f"Organizations nest at most {MAX_DEPTH} levels deep; "
                           f"{parent.account!r} is at level {parent.depth}.", code="too_deep")
    existing = session.scalar(select(Organization).where(Organization.account == account))
    if existing is not None:
        raise Conflict(_taken_message(existing), code="account_taken")
    org = Organization(account=account, name=name, description=description or "",
                       parent_id=parent.id if parent else None, seat_limit=seat_limit,
                       depth=(parent.depth + 1) if parent else 1, settings={})
    try:
        with session.begin_nested():
            session.add(org)
            session.flush()
    except IntegrityError:
        # The unique constraint, not the check above, is what holds under concurrency.
        raise Conflict(f"The account {account!r} is taken.", code="account_taken") from None
    org.path = (parent.path if parent else "/") + f"{org.id}/"
    create_builtin_roles(session, org)
    session.flush()
    record(session, org.id, "org.created", source=Source.MANUAL, actor=actor.label,
           target_type="organization", target_id=org.account, name=name,
           parent=parent.account if parent else None)
    if owner is not None or owner_email:
        from . import pipeline
        ident = Identity(user_id=owner.id, role="owner") if owner else \
            Identity(email=owner_email, role="owner", email_verified=False)
        existing_user = None
        if owner is None:
            from .pipeline.normalize import normalize_email
            existing_user = session.scalar(select(User).where(
                User.email == normalize_email(owner_email), User.deleted_at.is_(None)))
            if existing_user is not None:
                if actor.label != "cli":
                    raise Conflict("That email belongs to an existing account.",
                                   code="email_taken")
                ident = Identity(user_id=existing_user.id, role="owner")
        [result] = pipeline.provision(session, org, [ident], source=Source.MANUAL, actor=actor)
        if not result.ok:
            raise InvalidInput(result.message, code=str(result.reason))
    return org


def _taken_message(org: Organization) -> str:
    if org.deleted_at is not None:
        return (f"The account {org.account!r} belonged to a deleted organization; "
                "deleted accounts stay reserved and cannot be reused.")
    return f"The account {org.account!r} is taken."


def list_orgs(session: Session, within: Organization | None = None,
              account_contains: str | None = None, limit: int = 1000) -> list[Organization]:
    """Live organizations, optionally inside one subtree or matching a substring."""
    q = select(Organization).where(Organization.deleted_at.is_(None))
    if within is not None:
        q = q.where(Organization.path.like(within.path + "%"))
    if account_contains:
        esc = account_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(Organization.account.like(f"%{esc}%", escape="\\"))
    return list(session.scalars(q.order_by(Organization.path).limit(limit)))


def subtree(session: Session, org: Organization) -> list[Organization]:
    return list_orgs(session, within=org, limit=100_000)


def is_within(org: Organization, ancestor: Organization) -> bool:
    """True when ``org`` is ``ancestor`` or beneath it."""
    return org.path.startswith(ancestor.path)


def move_org(session: Session, org: Organization, new_parent: Organization, *,
             actor: Actor) -> Organization:
    """Move a sub-organization and everything beneath it under another parent."""
    if org.parent_id is None:
        raise InvalidInput("A root organization cannot be moved; only sub-organizations move.",
                           code="root_not_movable")
    if new_parent.root_id != org.root_id:
        raise InvalidInput("Organizations move only inside their own hierarchy.",
                           code="other_hierarchy")
    if is_within(new_parent, org):
        raise InvalidInput("An organization cannot move into its own subtree.", code="cycle")
    if new_parent.id == org.parent_id:
        return org
    nodes = subtree(session, org)
    height = max(n.depth for n in nodes) - org.depth + 1
    if new_parent.depth + height > MAX_DEPTH:
        raise InvalidInput(f"The move would nest {new_parent.depth + height} levels deep; the "
                           f"limit is {MAX_DEPTH}.", code="too_deep")
    old_prefix, new_prefix = org.path, new_parent.path + f"{org.id}/"
    shift = new_parent.depth + 1 - org.depth
    old_parent = org.parent.account if org.parent else None
    for n in nodes:
        n.path = new_prefix + n.path[len(old_prefix):]
        n.depth += shift
    org.parent = new_parent
    session.flush()
    record(session, org.id, "org.moved", source=Source.MANUAL, actor=actor.label,
           target_type="organization", target_id=org.account, old_parent=old_parent,
           parent=new_parent.account)
    return org


def update_org(session: Session, org: Organization, changes: dict[str, Any], *,
               actor: Actor) -> Organization:
    """Change name, description, seat limit, default role, deprovisioning policy or settings."""
    done: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            value = (value or "").strip()
            if not value or len(value) > 200:
                raise InvalidInput("A name of 1-200 characters is required.", code="invalid_name")
        elif key == "description":
            value = value or ""
        elif key == "seat_limit":
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 0):
                raise InvalidInput("seat_limit is a non-negative integer or null.",
                                   code="invalid_seat_limit")
        elif key == "default_role":
            require_role_name(value)
            if value == "owner":
                raise InvalidInput("The default role cannot be owner.", code="invalid_default_role")
        elif key == "deprovision_policy":
            if value not in DEPROVISION_POLICIES:
                raise InvalidInput("deprovision_policy is 'deactivate' or 'remove'.",
                                   code="invalid_deprovision_policy")
        elif key == "settings":
            unknown = set(value or {}) - SETTING_KEYS
            if unknown:
                raise InvalidInput(f"Unknown setting(s): {', '.join(sorted(unknown))}.",
                                   code="unknown_setting")
            for role in (value or {}).get("role_mapping", {}).values():
                require_role_name(role)
            if (value or {}).get("join_policy", "verified_domain") not in JOIN_POLICIES:
                raise InvalidInput("join_policy is one of " + ", ".join(JOIN_POLICIES) + ".",
                                   code="invalid_join_policy")
            value = {**(org.settings or {}), **(value or {})}
        else:
            raise InvalidInput(f"{key!r} cannot be changed.", code="unknown_field")
        setattr(org, key, value)
        done[key] = value
    if done:
        record(session, org.id, "org.updated", source=Source.MANUAL, actor=actor.label,
               target_type="organization", target_id=org.account, fields=sorted(done))
    return org


def delete_org(session: Session, org: Organization, *, actor: Actor,
               cascade: bool = False) -> list[str]:
    """Delete an organization (and, with ``cascade``, its sub-organizations). Owner only.

    The accounts stay reserved forever (The Things Stack: deleted IDs are never reused)."""
    if actor.label != "cli" and (actor.user_id is None or not is_owner(session, org, actor.user_id)):
        raise Forbidden("Only the owner can delete an organization.", code="owner_only")
    nodes = subtree(session, org)
    if len(nodes) > 1 and not cascade:
        raise Conflict(f"{org.account!r} has {len(nodes) - 1} sub-organization(s); delete or move "
                       "them first, or delete with cascade.", code="has_suborganizations")
    ids = [n.id for n in nodes]
    now = utcnow()
    session.execute(update(Credential).where(Credential.organization_id.in_(ids),
                                             Credential.revoked_at.is_(None))
                    .values(revoked_at=now))
    session.query(Membership).filter(Membership.organization_id.in_(ids)).delete(
        synchronize_session=False)
    for n in nodes:
        n.deleted_at = now
    record(session, org.id, "org.deleted", source=Source.MANUAL,
           actor=actor.label, target_type="organization", target_id=org.account,
           accounts=[n.account for n in nodes])
    return [n.account for n in nodes]


def memberships_on_path(session: Session, org: Organization, user_id: int) -> list[Membership]:
    """The user's active memberships in ``org`` and its ancestors (access reaches downward)."""
    return list(session.scalars(select(Membership).where(
        Membership.user_id == user_id, Membership.organization_id.in_(org.ancestor_ids),
        Membership.status == MembershipStatus.ACTIVE)))


def effective_permissions(session: Session, org: Organization, user_id: int) -> frozenset[str]:
    """Union of the permissions the user's roles give on ``org`` (its own or an ancestor's)."""
    perms: set[str] = set()
    for m in memberships_on_path(session, org, user_id):
        perms |= role_permissions(session, m.organization_id).get(m.role, frozenset())
    return frozenset(perms)


def effective_rank(session: Session, org: Organization, user_id: int) -> int:
    return max((RANKS[m.role] for m in memberships_on_path(session, org, user_id)), default=0)


def is_owner(session: Session, org: Organization, user_id: int) -> bool:
    return any(m.role == "owner" for m in memberships_on_path(session, org, user_id))


def seats_used(session: Session, org: Organization) -> int:
    return session.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id == org.id,
        Membership.status == MembershipStatus.ACTIVE)) or 0
