"""People's sign-in sessions: who is signed in, with which permissions, and safe redirects."""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for

from . import db, orgs
from .models import Organization, User


def login(user: User) -> None:
    """Start a fresh session for ``user`` (a new session on login: no fixation)."""
    session.clear()
    session["uid"] = user.id
    session["stamp"] = user.security_stamp
    session.permanent = True
    g.pop("current_user", None)


def logout() -> None:
    session.clear()
    g.pop("current_user", None)


def current_user() -> User | None:
    """The signed-in, active user; a bumped security stamp ends every older session."""
    if "current_user" in g:
        return g.current_user
    user = None
    uid = session.get("uid")
    if uid is not None:
        user = db.session().get(User, uid)
        if user is None or not user.active or user.deleted_at is not None \
                or user.security_stamp != session.get("stamp"):
            session.clear()
            user = None
    g.current_user = user
    return user


def validate_next_url(target: str | None, default: str = "/") -> str:
    """Only same-site absolute paths: no scheme, host, '//' or backslash tricks."""
    if not target or not isinstance(target, str):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def login_required(fn):
    """Send anonymous visitors to the sign-in page, then back here."""
    @functools.wraps(fn)
    def view(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return fn(*args, **kwargs)
    return view


def require_permission(org: Organization, permission: str) -> None:
    """403 unless the signed-in user's roles on ``org`` (or an ancestor) grant ``permission``."""
    user = current_user()
    if user is None or permission not in orgs.effective_permissions(db.session(), org, user.id):
        abort(403)
