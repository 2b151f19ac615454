"""Signing in and out, SSO by email domain, and choosing among one's organizations."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from .. import auth, db
from ..limits import limiter
from ..models import Membership, MembershipStatus, Organization, User
from ..security import verify_password
from . import bp

GENERIC_FAILURE = "That username or email and password do not match an active account."


def _find_login_user(login: str) -> User | None:
    login = (login or "").strip().lower()
    if not login:
        return None
    return db.session().scalar(select(User).where(
        or_(User.email == login, User.username == login), User.deleted_at.is_(None)))


def sso_available() -> bool:
    """SSO sign-in exists once the SSO blueprint is registered (issue 4)."""
    return "sso.start" in current_app.view_functions


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login():
    next_url = auth.validate_next_url(request.values.get("next"), url_for("console.my_orgs"))
    if request.method == "GET" and auth.current_user() is not None:
        return redirect(next_url)
    error = None
    if request.method == "POST":
        user = _find_login_user(request.form.get("login", ""))
        password = request.form.get("password", "")
        # verify_password spends the time of a real check even without a hash: no user oracle.
        ok = verify_password(user.password_hash if user else None, password)
        if ok and user is not None and user.active:
            auth.login(user)
            return redirect(next_url, code=303)
        error = GENERIC_FAILURE
    org, buttons = _provider_buttons(request.args.get("org"))
    return render_template("console/login.html", error=error, next=next_url, org_login=org,
                           buttons=buttons,
                           login=request.form.get("login", ""), sso=sso_available(),
                           join="invites.join_form" in current_app.view_functions), \
        (401 if error else 200)


PRESET_LABELS = {"microsoft": "Microsoft", "google": "Google", "okta": "Okta"}


def _provider_buttons(account: str | None) -> tuple[Organization | None, list[tuple[str, str]]]:
    """An organization's own sign-in buttons (/signin?org=acme): its enabled SSO connections."""
    if not account or not sso_available():
        return None, []
    from .. import orgs
    from ..sso import service
    org = orgs.get_org(db.session(), account.strip().lower())
    if org is None:
        return None, []
    return org, [(f"Sign in with {PRESET_LABELS.get(c.preset, c.name)}",
                  url_for("sso.login", account=org.account, name=c.name))
                 for c in service.list_connections(db.session(), org) if c.enabled]


@bp.post("/signin/sso")
@limiter.limit("20 per minute")
def sso_continue():
    """'Continue with SSO': the SSO service finds the organization's provider by email domain."""
    email = (request.form.get("email") or "").strip()
    next_url = auth.validate_next_url(request.form.get("next"), url_for("console.my_orgs"))
    if not sso_available():
        flash("Single sign-on is not set up on this server; sign in with your password.", "error")
        return redirect(url_for("console.login", next=next_url), code=303)
    if "@" not in email.strip("@"):
        flash("Enter your work email address to continue with SSO.", "error")
        return redirect(url_for("console.login", next=next_url), code=303)
    return redirect(url_for("sso.start", email=email, next=next_url), code=303)


@bp.route("/signout", methods=["GET", "POST"])
def logout():
    if request.method == "POST":
        auth.logout()
        flash("You are signed out.", "ok")
        return redirect(url_for("console.login"), code=303)
    return render_template("console/signout.html")


def my_memberships(user: User) -> list[tuple[Organization, Membership]]:
    """The person's active memberships with their organizations, by name."""
    rows = db.session().execute(
        select(Organization, Membership).join(Membership,
                                              Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id, Membership.status == MembershipStatus.ACTIVE,
               Organization.deleted_at.is_(None))
        .order_by(func.lower(Organization.name))).all()
    return [(o, m) for o, m in rows]


@bp.get("/orgs")
@auth.login_required
def my_orgs():
    rows = my_memberships(auth.current_user())
    if len(rows) == 1 and not request.args.get("all"):
        return redirect(url_for("console.overview", account=rows[0][0].account))
    return render_template("console/orgs.html", rows=rows)
