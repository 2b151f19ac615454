"""Credentials (API keys, SCIM tokens, invite secrets): random, shown once, stored hashed."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .db import utcnow
from .errors import Forbidden, NotFound, Unauthorized
from .events import record
from .identity import Actor, Source
from .models import Credential, CredentialKind, Membership, MembershipStatus, Organization
from .roles import OWNER_ONLY, validate_permissions
from .security import new_token, token_hash

PREFIXES = {CredentialKind.API_KEY: "cnk", CredentialKind.SCIM_TOKEN: "scim"}
# last_used_at is written at most this often, so a busy key does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Built once (every API and SCIM request runs it): building it costs more than running it.
_BY_TOKEN = select(Credential, Organization) \
    .join(Organization, Organization.id == Credential.organization_id) \
    .where(Credential.token_hash == bindparam("token_hash"), Credential.kind == bindparam("kind"))


def create(session: Session, org: Organization, kind: CredentialKind, *, name: str,
           actor: Actor, permissions: list[str] | None = None, user_id: int | None = None,
           expires_at: datetime | None = None, data: dict | None = None,
           max_uses: int | None = None, token: str | None = None) -> tuple[Credential, str]:
    """Create a credential and return it with its secret, which is never stored."""
    perms = sorted(validate_permissions(permissions or []))
    if set(perms) & OWNER_ONLY:
        raise Forbidden("Owner-only permissions cannot be given to a key.",
                        code="owner_only_permission")
    secret = token or new_token(PREFIXES.get(kind, "cn"))
    cred = Credential(organization_id=org.id, kind=kind.value, name=name or "",
                      token_hash=token_hash(secret), hint=secret[:8], permissions=perms,
                      user_id=user_id, created_by=actor.label, expires_at=expires_at,
                      data=data or {}, max_uses=max_uses, uses=0)
    session.add(cred)
    session.flush()
    record(session, org.id, f"{kind.value}.created", source=Source.MANUAL, actor=actor.label,
           target_type=kind.value, target_id=cred.id, name=name, permissions=perms)
    return cred, secret


def list_credentials(session: Session, org: Organization, kind: CredentialKind) -> list[Credential]:
    return list(session.scalars(select(Credential).where(
        Credential.organization_id == org.id, Credential.kind == kind.value)
        .order_by(Credential.id)))


def revoke(session: Session, org: Organization, kind: CredentialKind, cred_id: int, *,
           actor: Actor) -> Credential:
    cred = session.scalar(select(Credential).where(
        Credential.id == cred_id, Credential.organization_id == org.id,
        Credential.kind == kind.value))
    if cred is None:
        raise NotFound(f"No {kind.value.replace('_', ' ')} {cred_id} in {org.account}.")
    if cred.revoked_at is None:
        cred.revoked_at = utcnow()
        record(session, org.id, f"{kind.value}.revoked", source=Source.MANUAL, actor=actor.label,
               target_type=kind.value, target_id=cred.id, name=cred.name)
    return cred


def authenticate(session: Session, kind: CredentialKind, secret: str | None) -> Credential:
    """The live credential for a bearer secret, or Unauthorized. Records last use."""
    return authenticate_org(session, kind, secret)[0]


def authenticate_org(session: Session, kind: CredentialKind,
                     secret: str | None) -> tuple[Credential, Organization]:
    """``authenticate``, with the credential's organization loaded by the same query."""
    if not secret:
        raise Unauthorized("A bearer token is required.", code="missing_token")
    cred, org = session.execute(_BY_TOKEN, {"token_hash": token_hash(secret),
                                            "kind": kind.value}).first() or (None, None)
    now = utcnow()
    if cred is None or cred.revoked_at is not None or (cred.expires_at and cred.expires_at <= now):
        raise Unauthorized("The token is invalid, expired or revoked.", code="invalid_token")
    if org.deleted_at is not None:
        raise Unauthorized("The token is invalid, expired or revoked.", code="invalid_token")
    if cred.user_id is not None:
        # A key owned by a person works only while that person is an active member.
        status = session.scalar(select(Membership.status).where(
            Membership.user_id == cred.user_id, Membership.organization_id == org.id))
        if status != MembershipStatus.ACTIVE:
            raise Unauthorized("The token's owner is no longer an active member.",
                               code="invalid_token")
    if cred.last_used_at is None or now - cred.last_used_at > LAST_USED_RESOLUTION:
        cred.last_used_at = now
    return cred, org
