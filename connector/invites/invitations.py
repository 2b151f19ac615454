"""Email invitations: single-use links (random token, stored hashed), written together with
their email's outbox row, accepted through the pipeline."""
from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..events import EventBatch, record
from ..identity import Actor, Source
from ..models import Membership, MembershipStatus, Organization, OutboxMessage, User
from ..pipeline.context import chunks
from ..pipeline.normalize import normalize_email, valid_email
from ..roles import RANKS
from ..security import token_hash
from .common import Joined, JoinRefused, join, target_org, validate_grant
from .models import Invitation

MAX_DAYS = 30
MAX_BATCH = 10_000
_SEPARATORS = re.compile(r"[\n\r,;]+")
_NAMED = re.compile(r"<([^<>]*)>")


def parse_addresses(text: str | list[str]) -> list[str]:
    """A pasted list (commas, semicolons, newlines or spaces; "Name <a@b>" forms) to addresses."""
    out: list[str] = []
    for chunk in (text if isinstance(text, list) else _SEPARATORS.split(text or "")):
        chunk = (chunk or "").strip()
        named = _NAMED.findall(chunk)
        out.extend(a.strip() for a in named) if named else out.extend(
            w.strip("\"'") for w in chunk.split())
    return [a for a in out if a]


def effective_status(inv: Invitation) -> str:
    if inv.status == "pending" and inv.expires_at <= utcnow():
        return "expired"
    return inv.status


def _base_url() -> str:
    base = current_app.config.get("BASE_URL") or (request.host_url if has_request_context()
                                                  else "http://localhost:8000/")
    return base.rstrip("/")


def _email_row(org: Organization, inv_id: int, email: str, token: str, inv: dict) -> dict:
    reply_to = inv.get("reply_to") if current_app.config.get("INVITE_REPLY_TO_INVITER", True) \
        else None
    return {"organization_id": org.id, "kind": "email", "topic": "invitation",
            "status": "pending", "attempts": 0, "next_attempt_at": utcnow(),
            "created_at": utcnow(), "last_error": "",
            "payload": {"to": email, "template": "invitation", "reply_to": reply_to,
                        "message_id": f"<{uuid.uuid4().hex}@connector>", "context": {
                            "invitation_id": inv_id, "org_name": org.name,
                            "inviter_name": inv["inviter_name"], "role": inv["role"] or "",
                            "message": inv["message"], "email": email,
                            "accept_url": f"{_base_url()}/invite/{token}",
                            "expires_on": inv["expires_at"].strftime("%d %B %Y")}}}


def invite(session: Session, org: Organization, addresses: list[str] | str, *, actor: Actor,
           role: str | None = None, sub_organization: str | None = None,
           groups: list[str] | None = None, message: str = "", expires_days: int | None = None,
           inviter: User | None = None) -> list[dict]:
    """Invite each address (one result per address, in order): invited, already_member,
    invalid_email or duplicate. Earlier pending invitations to an address are replaced."""
    role, sub, groups = validate_grant(session, org, actor, role, sub_organization, groups)
    days = int(current_app.config.get("INVITATION_EXPIRY_DAYS", 7)) if expires_days is None \
        else expires_days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"expires_days is between 1 and {MAX_DAYS}.", code="invalid_expiry")
    if len(message or "") > 2000:
        raise InvalidInput("The personal message is at most 2,000 characters.",
                           code="message_too_long")
    raw = parse_addresses(addresses)
    if not raw:
        raise InvalidInput("Give at least one email address.", code="missing_email")
    if len(raw) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} addresses at once.", code="too_many")
    target = target_org(session, org, sub)
    role = role or target.default_role or "member"  # the email says which role awaits
    results: list[dict] = []
    wanted: dict[str, int] = {}
    for i, r in enumerate(raw):
        email = normalize_email(r) or ""
        if not valid_email(email):
            results.append({"email": r, "status": "invalid_email", "invitation_id": None})
        elif email in wanted:
            results.append({"email": email, "status": "duplicate", "invitation_id": None})
        else:
            wanted[email] = i
            results.append({"email": email, "status": "invited", "invitation_id": None})
    members: set[str] = set()
    for chunk in chunks(sorted(wanted)):
        members.update(session.scalars(select(User.email).join(
            Membership, Membership.user_id == User.id).where(
            Membership.organization_id == target.id, Membership.status == MembershipStatus.ACTIVE,
            User.email.in_(chunk))))
        # A new invitation replaces any earlier pending one: only the newest link works.
        session.execute(update(Invitation).where(
            Invitation.organization_id == org.id, Invitation.email.in_(chunk),
            Invitation.status == "pending").values(status="revoked", revoked_at=utcnow())
            .execution_options(synchronize_session=False))
    for email in members:
        results[wanted.pop(email)]["status"] = "already_member"
    if not wanted:
        return results
    now = utcnow()
    common = {"organization_id": org.id, "role": role, "sub_organization": sub,
              "groups": groups, "message": message or "", "status": "pending",
              "invited_by": actor.label, "inviter_user_id": inviter.id if inviter else None,
              "inviter_name": (inviter.display_name or inviter.email or "") if inviter else "",
              "sent_count": 1, "last_error": "", "created_at": now, "last_sent_at": now,
              "expires_at": now + timedelta(days=days)}
    tokens = {email: secrets.token_urlsafe(32) for email in wanted}
    rows = [{**common, "email": e, "token_hash": token_hash(tokens[e])} for e in wanted]
    ids = session.execute(insert(Invitation).returning(Invitation.id, Invitation.email,
                                                       sort_by_parameter_order=True), rows).all()
    extra = {**common, "reply_to": inviter.email if inviter else None}
    session.execute(insert(OutboxMessage), [_email_row(org, iid, email, tokens[email], extra)
                                            for iid, email in ids])
    events = EventBatch(session, source=Source.INVITATION.value, actor=actor.label)
    for iid, email in ids:
        results[wanted[email]]["invitation_id"] = iid
        events.add(org.id, "invitation.created", "invitation", iid, email=email, role=role)
    events.flush()
    return results


def list_invitations(session: Session, org: Organization, *, status: str | None = None,
                     after: int = 0, limit: int = 100) -> list[Invitation]:
    stmt = select(Invitation).where(Invitation.organization_id == org.id, Invitation.id > after)
    now = utcnow()
    if status == "expired":
        stmt = stmt.where(Invitation.status == "pending", Invitation.expires_at <= now)
    elif status == "pending":
        stmt = stmt.where(Invitation.status == "pending", Invitation.expires_at > now)
    elif status:
        stmt = stmt.where(Invitation.status == status)
    return list(session.scalars(stmt.order_by(Invitation.id).limit(min(limit, 1000))))


def require_invitation(session: Session, org: Organization, inv_id: int) -> Invitation:
    inv = session.scalar(select(Invitation).where(Invitation.id == inv_id,
                                                  Invitation.organization_id == org.id))
    if inv is None:
        raise NotFound(f"No invitation {inv_id} in {org.account}.", code="invitation_not_found")
    return inv


def resend(session: Session, org: Organization, inv_id: int, *, actor: Actor) -> Invitation:
    """Send a fresh link (the old one stops working) and restart the expiry."""
    inv = require_invitation(session, org, inv_id)
    if inv.status in ("accepted", "revoked"):
        raise Conflict(f"This invitation is {inv.status}; invite the address again instead.",
                       code=f"invitation_{inv.status}")
    token = secrets.token_urlsafe(32)
    days = max(1, (inv.expires_at - inv.created_at).days)
    now = utcnow()
    inv.token_hash, inv.status, inv.last_error = token_hash(token), "pending", ""
    inv.last_sent_at, inv.expires_at, inv.sent_count = now, now + timedelta(days=days), \
        inv.sent_count + 1
    session.execute(insert(OutboxMessage), [_email_row(org, inv.id, inv.email, token, {
        "inviter_name": inv.inviter_name, "role": inv.role, "message": inv.message,
        "expires_at": inv.expires_at,
        "reply_to": session.scalar(select(User.email).where(User.id == inv.inviter_user_id))
        if inv.inviter_user_id else None})])
    record(session, org.id, "invitation.resent", source=Source.MANUAL, actor=actor.label,
           target_type="invitation", target_id=inv.id, email=inv.email)
    return inv


def revoke(session: Session, org: Organization, inv_id: int, *, actor: Actor) -> Invitation:
    inv = require_invitation(session, org, inv_id)
    if inv.status == "accepted":
        raise Conflict("This invitation was already accepted; remove the member instead.",
                       code="invitation_accepted")
    if inv.status != "revoked":
        inv.status, inv.revoked_at = "revoked", utcnow()
        record(session, org.id, "invitation.revoked", source=Source.MANUAL, actor=actor.label,
               target_type="invitation", target_id=inv.id, email=inv.email)
    return inv


def mark_bounced(session: Session, org_id: int | None, inv_id: int, reason: str) -> None:
    """The mail server refused the invitation for good (5xx): show it and why."""
    session.execute(update(Invitation).where(
        Invitation.id == inv_id, Invitation.organization_id == org_id,
        Invitation.status == "pending").values(status="bounced", last_error=reason[:2000])
        .execution_options(synchronize_session=False))


def find_by_token(session: Session, token: str | None) -> Invitation | None:
    """The invitation a link carries; None for an unknown, replaced or tampered token."""
    if not token or len(token) > 100:
        return None
    return session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))


def check_usable(inv: Invitation | None) -> Invitation:
    """Raise the outcome a person sees when the link cannot be used."""
    if inv is None:
        raise JoinRefused("This invitation link is not valid. It may have been replaced by a "
                          "newer invitation; check your latest email.", code="invalid_link")
    state = effective_status(inv)
    if state == "accepted":
        raise JoinRefused("This invitation has already been accepted: you are a member.",
                          code="already_member")
    if state == "revoked":
        raise JoinRefused("This invitation has been withdrawn.", code="revoked")
    if state == "expired":
        raise JoinRefused("This invitation has expired. Ask for a new one.", code="expired")
    return inv  # pending, or bounced (the person got it after all)


def bound_elsewhere(session: Session, inv: Invitation, user: User) -> bool:
    """True when ``user`` may not use this invitation (sent to another address)."""
    org = session.get(Organization, inv.organization_id)
    if (org.settings or {}).get("allow_any_invite_address"):
        return False
    return (user.email or "").lower() != inv.email


def accept(session: Session, token: str, *, user: User | None = None, password: str | None = None,
           name: str | None = None, password_signin: bool = False) -> Joined:
    """Accept with ``user`` (signed in) or create the account of the invited address."""
    inv = check_usable(find_by_token(session, token))
    org = session.get(Organization, inv.organization_id)
    if org is None or org.deleted_at is not None:
        raise JoinRefused("This invitation link is not valid.", code="invalid_link")
    if user is not None and bound_elsewhere(session, inv, user):
        raise JoinRefused(f"This invitation was sent to {inv.email}. Sign in with that address "
                          "to accept it.", code="wrong_address")
    # Single use under concurrency: only one transaction moves it out of pending/bounced.
    taken = session.execute(update(Invitation).where(
        Invitation.id == inv.id, Invitation.token_hash == inv.token_hash,
        Invitation.status.in_(("pending", "bounced")))
        .values(status="accepted", accepted_at=utcnow())
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        raise JoinRefused("This invitation has already been accepted.", code="already_member")
    # The role was checked against the inviter when the invitation was made.
    actor = Actor(f"invitation:{inv.id}", rank=RANKS["admin"], user_id=user.id if user else None)
    joined = join(session, org, source=Source.INVITATION, actor=actor, user=user,
                  email=None if user else inv.email, password=password, name=name,
                  role=inv.role, sub=inv.sub_organization, groups=inv.groups,
                  password_signin=password_signin)
    session.execute(update(Invitation).where(Invitation.id == inv.id)
                    .values(accepted_user_id=joined.user_id)
                    .execution_options(synchronize_session=False))
    record(session, org.id, "invitation.accepted", source=Source.INVITATION, actor=actor.label,
           target_type="invitation", target_id=inv.id, user_id=joined.user_id,
           outcome=joined.outcome)
    return joined


def count_by_status(session: Session, org: Organization) -> dict[str, int]:
    rows = session.execute(select(Invitation.status, func.count()).where(
        Invitation.organization_id == org.id).group_by(Invitation.status)).all()
    return {s: n for s, n in rows}
