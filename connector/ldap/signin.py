"""LDAP bind as a sign-in method of an organization: the directory checks the password, the
pipeline joins the person (same rules as a sync), and repeated failures lock the login out."""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, redirect, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from providers import ldap as directory

from .. import auth, db, orgs, pipeline
from ..errors import AuthenticationFailed, LimitReached
from ..identity import Actor, Identity, Source
from ..invites import lockout
from ..limits import limiter
from ..models import Membership, MembershipStatus, Organization, User
from .models import LdapSource
from .sources import directory_config

GENERIC = "That username and password do not match an active account of this organization."
bp = Blueprint("ldap", __name__)  # template in connector/templates/ldap/


def _keys(org: Organization, login: str, client: str) -> list[str]:
    # Per login (a guessed password against one person) and per client address (spraying).
    return [f"ldap:{org.id}:{login.strip().lower()}"[:200], f"ldap-ip:{client}"[:200]]


def sign_in_directories(session: Session, org: Organization, login: str, *,
                        client: str) -> list[tuple[int, directory.DirectoryConfig]]:
    """The organization's sign-in directories, unless this login or client is locked out."""
    try:
        lockout.check(session, _keys(org, login, client))
    except LimitReached as err:
        raise LimitReached("Too many failed sign-ins. " + err.message.split(". ", 1)[-1],
                           code="locked_out") from None
    return [(src.id, directory_config(src)) for src in session.scalars(
        select(LdapSource).where(LdapSource.organization_id == org.id,
                                 LdapSource.enabled.is_(True), LdapSource.allow_signin.is_(True))
        .order_by(LdapSource.id))]


def check_password(directories: list[tuple[int, directory.DirectoryConfig]], login: str,
                   password: str) -> tuple[int, Identity]:
    """Ask each directory in turn (no database work: no lock is held during network I/O)."""
    for source_id, cfg in directories:
        try:
            # The provider escapes the login in its filter and refuses empty passwords.
            record = directory.authenticate(cfg, login, password)
        except AuthenticationFailed:
            continue
        # active=None: a sign-in never reactivates a member an admin or a sync deactivated.
        return source_id, replace(record.identity, active=None, groups=None)
    raise AuthenticationFailed(GENERIC, code="invalid_credentials")


def join(session: Session, org: Organization, source_id: int, ident: Identity, login: str, *,
         client: str) -> User:
    """Join the person the directory vouched for through the pipeline; active members only."""
    [result] = pipeline.provision(session, org, [ident], source=Source.LDAP,
                                  actor=Actor.system(f"ldap:{source_id}"),
                                  connection=f"ldap:{source_id}")
    if not result.ok:
        raise AuthenticationFailed(result.message, code=result.reason.value)
    m = session.scalar(select(Membership).where(
        Membership.organization_id == result.organization_id,
        Membership.user_id == result.user_id))
    user = session.get(User, result.user_id)
    if m is None or m.status != MembershipStatus.ACTIVE.value or not user.active:
        raise AuthenticationFailed(GENERIC, code="invalid_credentials")
    lockout.clear(session, _keys(org, login, client)[:1])
    return user


def record_failure(session: Session, org: Organization, login: str, *, client: str) -> None:
    """Count a failed sign-in (in its own transaction: the failed one rolls back)."""
    lockout.record_failure(session, _keys(org, login, client))


@bp.route("/signin/ldap/<account>", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def signin_page(account: str):
    """Sign in with the organization's directory username and password."""
    next_url = auth.validate_next_url(request.values.get("next"), "/")
    error, status = None, 200
    with db.transaction() as session:
        org = orgs.get_org(session, account)
        enabled = org is not None and session.scalar(select(LdapSource.id).where(
            LdapSource.organization_id == org.id, LdapSource.allow_signin.is_(True)).limit(1))
    if not enabled:
        return render_template("ldap/signin.html", org=None, error=None, next=next_url), 404
    if request.method == "POST":
        login, client = request.form.get("login", ""), request.remote_addr or ""
        try:
            with db.transaction() as session:
                found = sign_in_directories(session, orgs.require_org(session, account), login,
                                            client=client)
            source_id, ident = check_password(found, login, request.form.get("password", ""))
            with db.transaction() as session:
                user = join(session, orgs.require_org(session, account), source_id, ident,
                            login, client=client)
            auth.login(user)
            return redirect(next_url, code=303)
        except (AuthenticationFailed, LimitReached, directory.DirectoryError) as err:
            if isinstance(err, AuthenticationFailed):
                # The failure counter must survive the rolled-back sign-in transaction.
                with db.transaction() as session:
                    record_failure(session, orgs.require_org(session, account), login,
                                   client=client)
            error = err.message if not isinstance(err, directory.DirectoryError) else \
                "The directory cannot be reached; try again later."
            status = 429 if isinstance(err, LimitReached) else 401
    return render_template("ldap/signin.html", org=org, error=error, next=next_url,
                           login=request.form.get("login", "")), status


__all__ = ["bp", "sign_in_directories", "check_password", "join", "record_failure"]
