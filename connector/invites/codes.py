"""Invite codes: typed or read aloud, grouped like ``K7QM-4XPT-9HWR``, stored hashed.

Alphabet: Crockford's base 32 (digits and letters without I, L, O, U). Input is forgiving the
Crockford way: case, spaces and dashes are ignored and O reads as 0, I and L as 1, so a code
read over the phone still works. 12 symbols = 60 bits: at the default rate limits even a large
botnet needs centuries to hit one of a thousand live codes."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import credentials
from ..db import utcnow
from ..errors import InvalidInput, NotFound
from ..events import record
from ..identity import Actor, Source
from ..models import Credential, CredentialKind, Organization, User
from ..roles import RANKS
from ..security import token_hash
from .common import Joined, JoinRefused, join, validate_grant

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH, GROUP = 12, 4
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
KIND = CredentialKind.INVITE_CODE


def generate_code() -> str:
    """A new random code, compact form (no dashes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(compact: str) -> str:
    """``K7QM4XPT9HWR`` -> ``K7QM-4XPT-9HWR``."""
    return "-".join(compact[i:i + GROUP] for i in range(0, len(compact), GROUP))


def normalize_code(raw: str | None) -> str:
    """Case, spaces, dashes and look-alike letters do not matter."""
    s = "".join(ch for ch in (raw or "").upper() if ch not in " -_\t\r\n.")
    return s.translate(_READS_AS)


def status(cred: Credential) -> str:
    if cred.revoked_at is not None:
        return "revoked"
    if cred.expires_at is not None and cred.expires_at <= utcnow():
        return "expired"
    if cred.max_uses is not None and cred.uses >= cred.max_uses:
        return "used_up"
    return "active"


def _default_days() -> int:
    return int(current_app.config.get("INVITE_CODE_EXPIRY_DAYS", 30)) if has_app_context() else 30


def create_code(session: Session, org: Organization, *, actor: Actor, role: str | None = None,
                sub_organization: str | None = None, groups: list[str] | None = None,
                allowed_domain: str | None = None, expires_days: int | None = None,
                max_uses: int | None = None, label: str = "") -> tuple[Credential, str]:
    """Create a code; returns the credential and the code in display form (shown once)."""
    role, sub, groups = validate_grant(session, org, actor, role, sub_organization, groups)
    days = _default_days() if expires_days is None else expires_days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        raise InvalidInput("expires_days is between 1 and 365.", code="invalid_expiry")
    if max_uses is not None and (not isinstance(max_uses, int) or isinstance(max_uses, bool)
                                 or max_uses < 1):
        raise InvalidInput("max_uses is a positive integer (or empty for unlimited).",
                           code="invalid_max_uses")
    domain = (allowed_domain or "").strip().lower().lstrip("@") or None
    if domain and ("." not in domain or "@" in domain or " " in domain):
        raise InvalidInput(f"{allowed_domain!r} is not a domain.", code="invalid_domain")
    compact = generate_code()
    cred, _ = credentials.create(
        session, org, KIND, name=(label or "")[:200], actor=actor, token=compact,
        expires_at=utcnow() + timedelta(days=days), max_uses=max_uses,
        data={"role": role, "sub_organization": sub, "groups": groups, "allowed_domain": domain})
    cred.hint = compact[:GROUP]  # the first group only: admins tell codes apart, nobody guesses
    return cred, display(compact)


def list_codes(session: Session, org: Organization) -> list[Credential]:
    return credentials.list_credentials(session, org, KIND)


def require_code(session: Session, org: Organization, code_id: int) -> Credential:
    cred = session.scalar(select(Credential).where(
        Credential.id == code_id, Credential.organization_id == org.id, Credential.kind == KIND))
    if cred is None:
        raise NotFound(f"No invite code {code_id} in {org.account}.", code="code_not_found")
    return cred


def revoke_code(session: Session, org: Organization, code_id: int, *, actor: Actor) -> Credential:
    return credentials.revoke(session, org, KIND, code_id, actor=actor)


def regenerate_code(session: Session, org: Organization, code_id: int, *,
                    actor: Actor) -> tuple[Credential, str]:
    """Revoke a code and issue a new one with the same settings (its use count starts at 0)."""
    old = require_code(session, org, code_id)
    d = old.data or {}
    remaining = max(1, (old.expires_at - utcnow()).days) if old.expires_at else None
    cred, code = create_code(session, org, actor=actor, role=d.get("role"),
                             sub_organization=d.get("sub_organization"),
                             groups=d.get("groups"), allowed_domain=d.get("allowed_domain"),
                             expires_days=min(remaining or _default_days(), 365),
                             max_uses=old.max_uses, label=old.name)
    revoke_code(session, org, code_id, actor=actor)
    cred.data = {**cred.data, "replaces": old.id}
    return cred, code


def find_code(session: Session, raw: str | None) -> Credential | None:
    """The code credential a person typed, whatever its state; None when no such code."""
    compact = normalize_code(raw)
    if len(compact) != LENGTH or any(ch not in ALPHABET for ch in compact):
        return None
    return session.scalar(select(Credential).where(Credential.token_hash == token_hash(compact),
                                                   Credential.kind == KIND))


_REFUSALS = {
    "revoked": "This invite code has been revoked. Ask for a new one.",
    "expired": "This invite code has expired. Ask for a new one.",
    "used_up": "This invite code has been used the maximum number of times.",
}


def join_with_code(session: Session, raw: str | None, *, user: User | None = None,
                   email: str | None = None, password: str | None = None,
                   name: str | None = None, password_signin: bool = False) -> Joined:
    """Join the code's organization: ``user`` when signed in, else a new account.

    Exact use counts: the use is taken by one conditional UPDATE (uses < max_uses) checked by
    its rowcount, in the same transaction as the join. On PostgreSQL a concurrent join waits
    for the row lock, then re-checks the condition against the committed count."""
    cred = find_code(session, raw)
    if cred is None:
        raise JoinRefused("That code is not valid. Check it and try again.", code="invalid_code")
    state = status(cred)
    if state != "active":
        raise JoinRefused(_REFUSALS[state], code=state)
    org = session.get(Organization, cred.organization_id)
    if org is None or org.deleted_at is not None:
        raise JoinRefused("That code is not valid. Check it and try again.", code="invalid_code")
    d = cred.data or {}
    address = (user.email if user is not None else email) or ""
    domain = d.get("allowed_domain")
    if domain and address.strip().lower().rsplit("@", 1)[-1] != domain:
        raise JoinRefused(f"This code is for addresses at {domain} only.",
                          code="domain_not_allowed")
    actor = Actor(f"invite_code:{cred.id}", rank=RANKS["admin"],
                  user_id=user.id if user is not None else None)
    joined = join(session, org, source=Source.INVITE_CODE, actor=actor, user=user, email=email,
                  password=password, name=name, role=d.get("role"),
                  sub=d.get("sub_organization"), groups=d.get("groups"),
                  password_signin=password_signin)
    if joined.outcome == "already_member":
        return joined  # no use is taken by someone who already belongs
    taken = session.execute(
        update(Credential).where(Credential.id == cred.id, Credential.revoked_at.is_(None),
                                 (Credential.max_uses.is_(None))
                                 | (Credential.uses < Credential.max_uses))
        .values(uses=Credential.uses + 1, last_used_at=utcnow())
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        # Someone else took the last use first: the caller's rollback undoes the join.
        raise JoinRefused(_REFUSALS["used_up"], code="used_up")
    record(session, org.id, "invite_code.used", source=Source.INVITE_CODE, actor=actor.label,
           target_type="invite_code", target_id=cred.id, user_id=joined.user_id)
    return joined
