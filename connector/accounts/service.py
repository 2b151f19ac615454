"""Generated-account operations behind the console, the API and the CLI."""
from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from .. import members, orgs, pipeline
from ..errors import Conflict, Forbidden, InvalidInput, LimitReached, NotFound
from ..events import record
from ..identity import Actor, Source
from ..imports.models import ImportRow
from ..jobs import create_job, require_job
from ..models import Job, Membership, Organization, User
from ..roles import RANKS, require_role_name
from .passwords import new_passphrase, new_password, unseal
from .sheets import Card, csv_sheet, pdf_sheet
from .usernames import check_prefix

MAX_COUNT = 10_000


def generate(session: Session, org: Organization, count: int, *, actor: Actor,
             prefix: str = "user", role: str | None = None, group: str | None = None,
             sub_organization: str | None = None, passphrases: bool = False,
             must_change: bool = True) -> Job:
    """Check the request now (bad input fails at once), then queue the generation job."""
    if not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"count is 1 to {MAX_COUNT:,}.", code="invalid_count")
    prefix = check_prefix(prefix)
    if role is not None:
        require_role_name(role)
    target = org
    if sub_organization:
        target = orgs.get_org(session, sub_organization)
        if target is None or not orgs.is_within(target, org) or target.id == org.id:
            raise NotFound(f"{sub_organization!r} is not a sub-organization of {org.account!r}.",
                           code="unknown_sub_organization")
    if target.seat_limit is not None:
        free = target.seat_limit - orgs.seats_used(session, target)
        if count > free:
            raise LimitReached(f"{target.name} has {max(free, 0)} free seats; {count} requested.",
                               code="seats_full")
    params = {"count": count, "prefix": prefix, "role": role, "group": group or None,
              "sub_organization": sub_organization or None, "passphrases": passphrases,
              "must_change": must_change, "actor": actor.label, "actor_rank": actor.rank,
              "actor_user_id": actor.user_id}
    job = create_job(session, org, "generate_accounts", params, actor=actor, total=count)
    record(session, org.id, "accounts.generate", source=Source.GENERATED, actor=actor.label,
           target_type="job", target_id=job.id, count=count, prefix=prefix)
    return job


def sign_in_url(org: Organization) -> str:
    try:
        return url_for("console.login", _external=True)
    except (BuildError, RuntimeError):
        return (current_app.config.get("BASE_URL") or "http://localhost").rstrip("/") + "/login"


def take_sheet(session: Session, org: Organization, job_id: int, *, actor: Actor,
               fmt: str) -> tuple[bytes, str, str]:
    """The batch's credential sheet, once, for the admin who made the batch; audited.
    The passwords are erased as the sheet is handed out: a new sheet means new passwords."""
    if fmt not in ("csv", "pdf"):
        raise InvalidInput("The sheet format is csv or pdf.", code="invalid_format")
    job = require_job(session, org, job_id, "generate_accounts")
    if job.created_by != actor.label:
        raise Forbidden("Only the admin who generated these accounts can download their "
                        "credentials.", code="not_batch_owner")
    if job.status != "done":
        raise Conflict("The accounts are still being generated.", code="job_not_finished")
    rows = session.execute(select(ImportRow.data, ImportRow.secret).where(
        ImportRow.job_id == job.id, ImportRow.secret.is_not(None))
        .order_by(ImportRow.line)).all()
    if not rows:
        raise Conflict("This credential sheet was already downloaded; reset the passwords to "
                       "make a new one.", code="sheet_already_downloaded")
    url = sign_in_url(org)
    cards = [Card(org.name, d["username"], unseal(sec) or "(reset needed)", url)
             for d, sec in rows]
    data = csv_sheet(cards) if fmt == "csv" else pdf_sheet(cards, f"{org.name}: accounts")
    session.execute(update(ImportRow).where(ImportRow.job_id == job.id).values(secret=None))
    job.result = {**job.result, "sheet_downloaded_by": actor.label}
    record(session, org.id, "accounts.sheet_downloaded", source=Source.GENERATED,
           actor=actor.label, target_type="job", target_id=job.id, format=fmt,
           accounts=len(cards))
    name = f"{org.account}-accounts-{job.id}.{fmt}"
    return data, name, "text/csv" if fmt == "csv" else "application/pdf"


def reset_password(session: Session, org: Organization, user_ref: str | int, *,
                   actor: Actor, passphrase: bool = False) -> tuple[User, str]:
    """Give one member a new generated password (must change at next sign-in)."""
    user = members.find_user(session, str(user_ref))
    role = session.scalar(select(Membership.role).where(
        Membership.user_id == user.id, Membership.organization_id == org.id)) if user else None
    if role is None:
        raise NotFound(f"No member {user_ref!r} in {org.account}.", code="member_not_found")
    if RANKS[role] > actor.rank:
        raise Forbidden("You cannot reset the password of a member above your role.",
                        code="role_escalation")
    home = session.get(Organization, user.home_organization_id) \
        if user.home_organization_id else None
    if home is None or home.root_id != org.root_id:
        # An account another organization created belongs to that person, not to us.
        raise Forbidden("This account was not created by this organization; the person "
                        "resets their own password.", code="not_home_organization")
    if user.managed_by_source in ("scim", "ldap"):
        raise Conflict(f"This person is managed by {user.managed_by_source.upper()}.",
                       code="managed_elsewhere")
    password = new_passphrase() if passphrase else new_password()
    pipeline.set_password(session, user, password, actor, must_change=True)
    return user, password
