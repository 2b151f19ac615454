"""What invite codes and invitations share: the grant they carry (role, sub-organization,
groups) and joining through the pipeline with outcomes a person understands."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import orgs, pipeline
from ..errors import ConnectorError, Forbidden, InvalidInput
from ..identity import Actor, Identity, Outcome, Reason, Source
from ..models import Membership, MembershipStatus, Organization, User
from ..roles import RANKS, require_role_name

MIN_PASSWORD = 8


class JoinRefused(ConnectorError):
    """A join that cannot happen; ``code`` names the outcome page (expired, revoked, used_up,
    domain_not_allowed, seats_full, wrong_address, invalid_code, ...)."""

    status = 409


@dataclass(frozen=True)
class Joined:
    """A successful join (or the discovery that the person already belongs)."""

    outcome: str            # "joined" or "already_member"
    org: Organization       # where the person now belongs (the sub-organization if any)
    user_id: int


def validate_grant(session: Session, org: Organization, actor: Actor, role: str | None,
                   sub_organization: str | None, groups: list[str] | tuple[str, ...] | None
                   ) -> tuple[str | None, str | None, list[str]]:
    """Check what an invite may grant: no owner, nothing above the inviter, a real sub-org."""
    if role:
        require_role_name(role)
        if role == "owner":
            raise InvalidInput("An invite cannot make someone owner.", code="invalid_role")
        if RANKS[role] > actor.rank:
            raise Forbidden(f"You cannot grant the {role} role.", code="role_escalation")
    sub = (sub_organization or "").strip().lower() or None
    if sub:
        target = orgs.get_org(session, sub)
        if target is None or not orgs.is_within(target, org) or target.id == org.id:
            raise InvalidInput(f"{sub!r} is not a sub-organization of {org.account!r}.",
                               code="unknown_sub_organization")
    clean = [g.strip() for g in groups or () if g and g.strip()]
    return role or None, sub, clean


def target_org(session: Session, org: Organization, sub: str | None) -> Organization:
    if not sub:
        return org
    target = orgs.get_org(session, sub)
    if target is None or not orgs.is_within(target, org):
        raise JoinRefused("The team this invite points to no longer exists.",
                          code="unknown_sub_organization")
    return target


def check_password(password: str | None) -> str:
    if not password or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Choose a password of at least {MIN_PASSWORD} characters.",
                           code="weak_password")
    return password


def email_taken(session: Session, email: str) -> bool:
    return session.scalar(select(User.id).where(User.email == email.strip().lower(),
                                                User.deleted_at.is_(None))) is not None


def sso_required(org: Organization) -> bool:
    """The organization's members sign in through its SSO only (setting ``require_sso``)."""
    return bool((org.settings or {}).get("require_sso"))


def join(session: Session, org: Organization, *, source: Source, actor: Actor,
         user: User | None = None, email: str | None = None, password: str | None = None,
         name: str | None = None, role: str | None = None, sub: str | None = None,
         groups: list[str] | None = None, password_signin: bool = False) -> Joined:
    """Join ``user`` (signed in) or create an account, through the pipeline."""
    if sso_required(org) and (user is None or password_signin):
        # A password account (new, or just signed in with one) would bypass the organization's
        # identity provider: the person signs in through SSO first, then accepts.
        raise JoinRefused(f"{org.name} signs in with single sign-on: sign in through it first, "
                          "then come back to this page.", code="sso_required")
    target = target_org(session, org, sub)
    if user is not None:
        m = session.scalar(select(Membership).where(Membership.organization_id == target.id,
                                                    Membership.user_id == user.id))
        if m is not None and m.status == MembershipStatus.ACTIVE:
            return Joined("already_member", target, user.id)
        # The email rides along so the organization's allowed-domain policy can be checked.
        ident = Identity(user_id=user.id, email=user.email, role=role, sub_organization=sub,
                         groups=tuple(groups) if groups else None)
    else:
        if email and email_taken(session, email):
            raise JoinRefused("An account with this email already exists: sign in first, "
                              "then join.", code="account_exists")
        ident = Identity(email=email, password=check_password(password), display_name=name,
                         role=role, sub_organization=sub,
                         groups=tuple(groups) if groups else None)
    [result] = pipeline.provision(session, org, [ident], source=source, actor=actor)
    if result.outcome is Outcome.REJECTED:
        raise _refusal(result.reason, result.message)
    outcome = "already_member" if result.outcome in (Outcome.UNCHANGED, Outcome.UPDATED) \
        else "joined"
    return Joined(outcome, target, result.user_id)


def _refusal(reason: Reason | None, message: str) -> JoinRefused:
    code = {Reason.DOMAIN_NOT_ALLOWED: "domain_not_allowed", Reason.SEATS_FULL: "seats_full",
            Reason.MEMBER_DEACTIVATED: "member_deactivated",
            Reason.EMAIL_TAKEN: "account_exists"}.get(reason, reason.value if reason else "refused")
    return JoinRefused(message or "You cannot join this organization.", code=code)
