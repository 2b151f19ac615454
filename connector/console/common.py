"""What every console page shares: the organization guard, the actor, and write helpers."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import auth, db, orgs
from ..errors import ConnectorError
from ..identity import Actor
from ..models import Organization, User
from . import bp

# Endpoints a person who must change their password may still reach.
OPEN_WHILE_MUST_CHANGE = {"console.change_password", "console.logout", "static"}

# Sidebar of an organization: (endpoint, label, permission that makes it visible).
NAV: list[tuple[str, str, str]] = [
    ("console.overview", "Overview", "org.view"),
    ("console.members_page", "Members", "members.view"),
    ("console.suborgs", "Sub-organizations", "org.view"),
    ("console.roles_page", "Roles", "members.view"),
    ("console.api_keys", "API keys", "apikeys.manage"),
    ("console.audit", "Audit log", "audit.view"),
    ("console.settings", "Settings", "org.manage"),
]


@bp.before_app_request
def _force_password_change():
    """A generated account's first sign-in ends on the change-password page, wherever it goes."""
    if request.blueprint != "console" or request.endpoint in OPEN_WHILE_MUST_CHANGE:
        return None
    user = auth.current_user()
    if user is not None and user.must_change_password:
        return redirect(url_for("console.change_password", next=request.full_path.rstrip("?")))
    return None


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"me": auth.current_user(), "nav_items": _nav_items, "can": _can,
            "has_page": lambda endpoint: endpoint in current_app.view_functions}


@bp.app_errorhandler(403)
def _forbidden(_err):
    if request.path.startswith(("/api/", "/scim/")):
        return jsonify({"error": {"code": "forbidden", "message": "Not allowed."}}), 403
    return render_template("console/error.html", title="Not allowed",
                           message="Your role in this organization does not allow this page. "
                                   "Ask an admin if you need access."), 403


@bp.errorhandler(429)
def _too_many(_err):
    return render_template("console/error.html", title="Too many attempts",
                           message="Too many attempts from here. Wait a minute, then try "
                                   "again."), 429


def _can(permission: str) -> bool:
    return permission in g.get("perms", frozenset())


def _nav_items() -> list[tuple[str, str, bool]]:
    org = g.get("org")
    if org is None:
        return []
    return [(url_for(ep, account=org.account), label, request.endpoint == ep)
            for ep, label, perm in NAV
            if _can(perm) and ep in current_app.view_functions]


def org_page(permission: str | None = "org.view"):
    """Sign-in required; load ``account``; 404 to non-members, 403 without ``permission``."""
    def wrap(fn: Callable):
        @functools.wraps(fn)
        @auth.login_required
        def view(account: str, **kwargs):
            session = db.session()
            org = orgs.get_org(session, account)
            user = auth.current_user()
            perms = orgs.effective_permissions(session, org, user.id) if org else frozenset()
            if not perms:
                abort(404)  # another tenant's organization looks like a missing one
            if permission and permission not in perms:
                abort(403)
            g.org, g.perms = org, perms
            return fn(org, **kwargs)
        return view
    return wrap


def actor_for(org: Organization, user: User | None = None) -> Actor:
    """The signed-in person as an actor: may grant roles up to their own rank."""
    user = user or auth.current_user()
    rank = orgs.effective_rank(db.session(), org, user.id)
    return Actor(f"user:{user.id}", rank=rank, user_id=user.id)


def attempt(write: Callable, success: str | None = None) -> Any:
    """Run ``write(session)`` in one transaction; flash the outcome as a sentence.

    Returns the write's result, or None after a domain error (nothing was applied)."""
    try:
        with db.transaction() as session:
            out = write(session)
    except ConnectorError as err:
        flash(err.message, "error")
        return None
    if success:
        flash(success, "ok")
    return out if out is not None else True


def back(endpoint: str, **values) -> Any:
    """Redirect (303) to a console page of the current organization, keeping the filters the
    person had on that page (the referrer's query) when the form was posted from it."""
    target = url_for(endpoint, account=g.org.account, **values)
    ref = urlsplit(request.referrer or "")
    if not values and ref.netloc == request.host and ref.path == target and ref.query:
        target = auth.validate_next_url(f"{ref.path}?{ref.query}", target)
    return redirect(target, code=303)


def int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
