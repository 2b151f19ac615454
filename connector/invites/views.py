"""The person-facing pages: join with a code (/join) and accept an invitation (/invite/<token>).

Each page signs the person in (existing account, password) or creates their account, then joins
through the pipeline. Outcomes get their own page with a sentence a person understands."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import TooManyRequests

from .. import auth, db
from ..errors import ConnectorError, LimitReached
from ..limits import limiter
from ..models import Organization, User
from ..security import verify_password
from . import codes, invitations, lockout
from .common import JoinRefused, email_taken, sso_required

bp = Blueprint("invites", __name__)

TITLES = {
    "joined": "You're in", "already_member": "You're already a member",
    "expired": "This invite has expired", "revoked": "This invite was withdrawn",
    "used_up": "This code has been used up", "domain_not_allowed": "Your address can't join",
    "seats_full": "No free seats", "invalid_code": "That code isn't valid",
    "invalid_link": "This link isn't valid", "wrong_address": "This invitation is for someone else",
    "account_exists": "You already have an account", "locked_out": "Too many attempts",
    "member_deactivated": "Your membership is deactivated",
    "sso_required": "Sign in with single sign-on first",
}
STATUS = {"joined": 200, "already_member": 200, "invalid_code": 404, "invalid_link": 404,
          "expired": 410, "revoked": 410, "locked_out": 429}


def _ip_limit() -> str:
    return current_app.config.get("INVITE_CODE_RATE_LIMIT", "10/minute;60/hour")


def _account_limit() -> str:
    return current_app.config.get("INVITE_CODE_ACCOUNT_RATE_LIMIT", "20/hour")


def _account_key() -> str:
    user = auth.current_user()
    if user is not None:
        return f"user:{user.id}"
    email = (request.form.get("email") or "").strip().lower()
    return f"email:{email}" if email else f"ip:{get_remote_address()}"


def _outcome(code: str, message: str, org: Organization | None = None):
    return render_template("invites/outcome.html", code=code, title=TITLES.get(code, "Sorry"),
                           message=message, org=org, sso_url=_sso_url()), STATUS.get(code, 409)


def _sso_url(email: str | None = None) -> str | None:
    """Home-realm discovery of the SSO feature, coming back to this page after sign-in."""
    if not _has("sso.start"):
        return None
    back = request.path if request.method == "GET" else (request.referrer or request.path)
    return url_for("sso.start", email=email or None, next=auth.validate_next_url(back, "/"))


def _has(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def _sign_in(session, email: str, password: str) -> User:
    user = session.query(User).filter(User.email == (email or "").strip().lower(),
                                      User.deleted_at.is_(None)).one_or_none()
    # verify_password spends the same time for unknown accounts: no account enumeration.
    if not verify_password(user.password_hash if user else None, password or "") \
            or user is None or not user.active:
        raise JoinRefused("Wrong email or password.", code="bad_credentials")
    auth.login(user)
    return user


@bp.errorhandler(TooManyRequests)
def _too_many(_err):
    return _outcome("locked_out", "Too many attempts. Wait a few minutes, then try again.")[0], 429


# -- invite codes --------------------------------------------------------------------------------

@bp.get("/join")
def join_form():
    return render_template("invites/join.html", user=auth.current_user(),
                           code=request.args.get("code", ""), form={}, error=None)


@bp.post("/join")
@limiter.limit(_ip_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"])
def join_submit():
    f = request.form
    user = auth.current_user()
    email = (f.get("email") or "").strip().lower()
    keys = list(dict.fromkeys([f"ip:{get_remote_address()}", _account_key()]))
    try:
        with db.transaction() as session:
            lockout.check(session, keys)
            password_signin = user is None and f.get("action") == "signin"
            if password_signin:
                user = _sign_in(session, email, f.get("password", ""))
            joined = codes.join_with_code(session, f.get("code"), user=user,
                                          email=None if user else email,
                                          password=None if user else f.get("password"),
                                          name=None if user else f.get("name"),
                                          password_signin=password_signin)
            if user is None:
                user = session.get(User, joined.user_id)
            lockout.clear(session, keys[1:])
    except JoinRefused as err:
        if err.code == "invalid_code":
            with db.transaction() as session:
                locked = lockout.record_failure(session, keys)
            if locked:
                return _outcome("locked_out", "Too many wrong codes. Try again later.")
        if err.code in ("invalid_code", "bad_credentials", "account_exists"):
            return _join_again(err.message)
        return _outcome(err.code, err.message)
    except LimitReached as err:
        return _outcome("locked_out", err.message)
    except ConnectorError as err:
        return _join_again(err.message)
    if auth.current_user() is None or auth.current_user().id != user.id:
        auth.login(user)
    return _outcome(joined.outcome, "", joined.org)


def _join_again(error: str):
    form = {k: request.form.get(k, "") for k in ("email", "name")}
    return render_template("invites/join.html", user=auth.current_user(),
                           code=request.form.get("code", ""), form=form, error=error), 400


# -- invitations ---------------------------------------------------------------------------------

@bp.get("/invite/<token>")
def invitation(token: str):
    session = db.session()
    inv = invitations.find_by_token(session, token)
    org = session.get(Organization, inv.organization_id) if inv else None
    try:
        invitations.check_usable(inv)
    except JoinRefused as err:
        return _outcome(err.code, err.message, org)
    return _accept_page(session, token, inv, org)


def _accept_page(session, token, inv, org, error: str | None = None, status: int = 200):
    user = auth.current_user()
    return render_template(
        "invites/accept.html", token=token, inv=inv, org=org, user=user, error=error,
        wrong=user is not None and invitations.bound_elsewhere(session, inv, user),
        has_account=email_taken(session, inv.email), sso=sso_required(org),
        sso_url=_sso_url(inv.email),
        allow_any=bool((org.settings or {}).get("allow_any_invite_address"))), status


@bp.post("/invite/<token>")
@limiter.limit(_ip_limit, methods=["POST"])
def invitation_submit(token: str):
    f = request.form
    action = f.get("action", "join")
    new_user = None
    try:
        with db.transaction() as session:
            user = auth.current_user()
            if action == "signin":
                inv = invitations.find_by_token(session, token)
                user = _sign_in(session, f.get("email") or (inv.email if inv else ""),
                                f.get("password", ""))
            if action == "signup":
                if user is not None:
                    auth.logout()
                joined = invitations.accept(session, token, password=f.get("password"),
                                            name=f.get("name"))
                new_user = session.get(User, joined.user_id)
            elif user is None:
                raise JoinRefused("Sign in or create your account first.", code="bad_credentials")
            else:
                joined = invitations.accept(session, token, user=user,
                                            password_signin=action == "signin")
    except (JoinRefused, ConnectorError) as err:
        session = db.session()
        inv = invitations.find_by_token(session, token)
        org = session.get(Organization, inv.organization_id) if inv else None
        if inv is not None and err.code in ("bad_credentials", "weak_password", "invalid_input",
                                            "account_exists"):
            try:
                invitations.check_usable(inv)
                return _accept_page(session, token, inv, org, err.message, 400)
            except JoinRefused as again:
                err = again
        return _outcome(err.code, err.message, org)
    if new_user is not None:
        auth.login(new_user)
    return _outcome(joined.outcome, "", joined.org)
