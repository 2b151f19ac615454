"""Changing a password, and resetting a forgotten one with a signed, single-use emailed link."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from .. import auth, db, pipeline
from ..errors import ConnectorError
from ..events import enqueue_email
from ..identity import Actor
from ..limits import limiter
from ..models import User
from ..security import verify_password
from . import bp

RESET_MAX_AGE = 3600  # seconds a reset link stays valid


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def reset_token(user: User) -> str:
    """A link token bound to the user's security stamp: the password change that uses it bumps
    the stamp, so the link works once (and any sign-out-everywhere also spends it)."""
    return _serializer().dumps({"u": user.id, "s": user.security_stamp})


def user_for_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    user = db.session().get(User, data.get("u"))
    if user is None or not user.active or user.deleted_at is not None \
            or user.security_stamp != data.get("s"):
        return None
    return user


def reset_url(user: User) -> str:
    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    return base + url_for("console.reset_password", token=reset_token(user))


def send_reset_email(session, user: User) -> None:
    """Queue the reset email in the caller's transaction (the outbox sends it after commit)."""
    enqueue_email(session, user.home_organization_id, "password_reset", to=user.email,
                  template="password_reset",
                  context={"reset_url": reset_url(user),
                           "user_name": user.display_name or user.given_name or user.email})


@bp.route("/password/change", methods=["GET", "POST"])
@auth.login_required
def change_password():
    user = auth.current_user()
    next_url = auth.validate_next_url(request.values.get("next"), url_for("console.my_orgs"))
    error = None
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new, again = request.form.get("new_password", ""), request.form.get("confirm_password", "")
        if not verify_password(user.password_hash, current):
            error = "Your current password is not right."
        elif new != again:
            error = "The two new passwords are not the same."
        elif new == current:
            error = "Choose a new password that differs from the current one."
        else:
            try:
                with db.transaction() as session:
                    pipeline.set_password(session, user, new, Actor(f"user:{user.id}",
                                                                    user_id=user.id))
            except ConnectorError as err:
                error = err.message
            else:
                auth.login(user)  # this session continues with the new stamp; others end
                flash("Your password is changed.", "ok")
                return redirect(next_url, code=303)
    return render_template("console/change_password.html", error=error, next=next_url,
                           forced=user.must_change_password), 400 if error else 200


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
def forgot_password():
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        with db.transaction() as session:
            user = session.scalar(select(User).where(User.email == email,
                                                     User.deleted_at.is_(None))) if email else None
            if user is not None and user.active:
                send_reset_email(session, user)
        # The same answer either way: the page must not tell who has an account.
        return render_template("console/forgot_password.html", sent=True)
    return render_template("console/forgot_password.html", sent=False)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def reset_password(token: str):
    user = user_for_token(token)
    if user is None:
        return render_template("console/reset_password.html", invalid=True), 400
    error = None
    if request.method == "POST":
        new, again = request.form.get("new_password", ""), request.form.get("confirm_password", "")
        if new != again:
            error = "The two passwords are not the same."
        else:
            try:
                with db.transaction() as session:
                    pipeline.set_password(session, user, new,
                                          Actor(f"user:{user.id}", user_id=user.id))
            except ConnectorError as err:
                error = err.message
            else:
                auth.login(user)
                flash("Your password is set; you are signed in.", "ok")
                return redirect(url_for("console.my_orgs"), code=303)
    return render_template("console/reset_password.html", invalid=False, error=error), \
        400 if error else 200
