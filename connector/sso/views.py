"""SSO routes: home-realm discovery, login, OIDC callback, SAML ACS and metadata, link
confirmation, logout. Views parse, call the providers and the flow, and render."""
from __future__ import annotations

from flask import (Blueprint, Response, current_app, redirect, render_template, request,
                   session as cookie, url_for)

from providers import oidc, saml

from .. import auth, db, orgs
from ..errors import AuthenticationFailed, ConnectorError, Forbidden, NotFound
from ..limits import limiter
from ..models import Organization, User
from . import flow, service
from .models import SsoConnection

bp = Blueprint("sso", __name__, url_prefix="/sso", template_folder="templates")
MAX_PENDING = 5  # sign-ins started in parallel tabs


def _load(s, account: str, name: str) -> tuple[Organization, SsoConnection]:
    org = orgs.get_org(s, account)
    conn = service.get_connection(s, org, name) if org is not None else None
    if org is None or conn is None or not conn.enabled:
        raise NotFound("There is no such sign-in for this organization.", code="sso_not_found")
    return org, conn


def _landing(org: Organization, next_url: str | None) -> str:
    # The console's organization page when the console is installed, else the start page.
    default = f"/orgs/{org.account}" if any(
        r.rule == "/orgs/<account>" for r in current_app.url_map.iter_rules()) else "/"
    return auth.validate_next_url(next_url, default)


def _page(template: str, status: int = 200, **ctx):
    return render_template(f"sso/{template}", **ctx), status


def _refusal(err: ConnectorError):
    """A sentence the person understands; the reason code is in the admins' attempt log."""
    status = 403 if isinstance(err, Forbidden) else (404 if isinstance(err, NotFound) else 400)
    return _page("error.html", status, message=err.message, code=err.code)


@bp.route("/start", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def start():
    """Home-realm discovery: the email's verified domain names the organization."""
    email = (request.values.get("email") or "").strip()
    next_url = auth.validate_next_url(request.values.get("next"), "")
    if not email:
        return _page("start.html", email="", next=next_url)
    matches = service.discover(db.session(), email)
    if len(matches) == 1:
        org, conn = matches[0]
        return redirect(url_for(".login", account=org.account, name=conn.name,
                                next=next_url or None), code=303)
    if not matches:
        return _page("start.html", 404, email=email, next=next_url,
                     error="No organization signs in with single sign-on for that address. "
                           "Sign in with your password, or ask your administrator.")
    return _page("choose.html", matches=matches, next=next_url)


@bp.get("/<account>/<name>/login")
@limiter.limit("30 per minute")
def login(account: str, name: str):
    """Send the browser to the IdP, remembering what we asked for."""
    next_url = auth.validate_next_url(request.args.get("next"), "")
    test = request.args.get("test") == "1"
    s = db.session()
    try:
        org, conn = _load(s, account, name)
        kind = conn.kind
        settings = service.oidc_settings(org, conn) if kind == "oidc" else None
    except ConnectorError as err:
        return _refusal(err)
    s.commit()  # no transaction (on SQLite: no write lock) while we talk to the IdP
    try:
        if kind == "oidc":
            url, pending = oidc.begin(settings)
            states = dict(cookie.get("sso_oidc") or {})
            while len(states) >= MAX_PENDING:
                states.pop(next(iter(states)))
            states[pending["state"]] = {**pending, "c": conn.id, "n": next_url, "t": test}
            cookie["sso_oidc"] = states
        else:
            url = _saml_begin(org, conn, next_url, test)
    except ConnectorError as err:
        # An unreachable IdP or a broken configuration: the admins see it in the log.
        with db.transaction() as s:
            service.record_attempt(s, org, conn, "failure", err.code, err.message)
        return _refusal(err)
    return redirect(url, code=303)


def _saml_begin(org: Organization, conn: SsoConnection, next_url: str, test: bool) -> str:
    # The ACS is a cross-site POST: SameSite=Lax keeps our cookie away from it, so the request
    # id travels in RelayState (MACed) and is bound to this browser again at the done step,
    # where the cookie also keeps the 'next' target.
    url, rid = saml.begin(service.saml_settings(org, conn), _request_data(),
                          lambda rid: flow.relay_state(conn.id, rid, test))
    pending = dict(cookie.get("sso_saml") or {})
    while len(pending) >= MAX_PENDING:
        pending.pop(next(iter(pending)))
    pending[rid] = next_url
    cookie["sso_saml"] = pending
    return url


def _request_data() -> dict:
    """What python3-saml needs to know about this request (it checks Destination with it)."""
    base = service.base_url()
    from urllib.parse import urlsplit
    parts = urlsplit(base)
    return {"https": "on" if parts.scheme == "https" else "off",
            "http_host": parts.hostname or request.host.split(":")[0],
            "server_port": str(parts.port or (443 if parts.scheme == "https" else 80)),
            "script_name": request.path, "get_data": request.args.copy(),
            "post_data": request.form.copy()}


@bp.get("/<account>/<name>/callback")
@limiter.limit("30 per minute")
def oidc_callback(account: str, name: str):
    """OIDC redirect URI: validate, provision, sign in."""
    states = dict(cookie.get("sso_oidc") or {})
    pending = states.pop(str(request.args.get("state", "")), None)
    cookie["sso_oidc"] = states  # single use, whatever happens next
    s = db.session()
    try:
        org, conn = _load(s, account, name)
        settings = service.oidc_settings(org, conn)
    except ConnectorError as err:
        return _refusal(err)
    s.commit()  # the token request below must not hold a transaction (SQLite: the write lock)
    if pending is not None and pending.get("c") != conn.id:
        pending = None
    failure: AuthenticationFailed | None = None
    try:
        identity, claims = oidc.finish(settings, request.args, pending)
    except AuthenticationFailed as err:
        failure = err
    with db.transaction() as s:
        if failure is not None:
            service.record_attempt(s, org, conn, "failure", failure.code, failure.message + (
                f" ({failure.details})" if failure.details else ""))
            return _refusal(failure)
        if pending.get("t"):
            return _show_test(s, org, conn, claims)
        return _complete(s, org, conn, identity, pending.get("n"))


@bp.post("/<account>/<name>/acs")
@limiter.limit("60 per minute")
def saml_acs(account: str, name: str):
    """SAML Assertion Consumer Service (HTTP-POST binding); CSRF-exempt, the IdP posts here."""
    with db.transaction() as s:
        try:
            org, conn = _load(s, account, name)
        except ConnectorError as err:
            return _refusal(err)
        rid, test = None, False
        try:
            if request.form.get("RelayState"):
                try:
                    rid, test = flow.parse_relay(conn.id, request.form["RelayState"])
                except AuthenticationFailed:
                    # IdP-initiated sign-ins may carry the IdP's own RelayState (Okta's
                    # "Default RelayState"): not ours, so no request to match.
                    if not conn.config.get("allow_idp_initiated"):
                        raise
            identity, attrs, assertion_id, expires = saml.finish(
                service.saml_settings(org, conn), _request_data(), rid)
            service.claim_assertion(s, conn, assertion_id, expires)
        except AuthenticationFailed as err:
            service.record_attempt(s, org, conn, "failure", err.code, err.message + (
                f" ({err.details.get('detail')})" if err.details.get("detail") else ""))
            return _refusal(err)
        if test:
            return _show_test(s, org, conn, attrs)
        try:
            uid, target = _provision(s, org, conn, identity)
        except ConnectorError as err:
            return _link_or_refusal(err)
    # Back to our own site with a same-site GET, where the browser's cookie is sent again.
    token = flow.sign("done", {"u": uid, "r": rid, "o": target.id, "c": conn.id,
                               "a": assertion_id})
    return redirect(url_for(".saml_done", account=account, name=name, t=token), code=303)


@bp.get("/<account>/<name>/acs/done")
def saml_done(account: str, name: str):
    try:
        data = flow.unsign("done", request.args.get("t", ""), max_age=120)
    except AuthenticationFailed as err:
        return _refusal(err)
    pending = dict(cookie.get("sso_saml") or {})
    next_url = None
    if data.get("r") is not None:
        if data["r"] not in pending:
            # A response to a request another browser made (login CSRF): never sign in here.
            return _refusal(AuthenticationFailed("This sign-in was started in another browser. "
                                                 "Start again.", code="state_mismatch"))
        next_url = pending.pop(data["r"])
        cookie["sso_saml"] = pending
    with db.transaction() as s:
        conn = s.get(SsoConnection, data.get("c"))
        user, org = s.get(User, data.get("u")), s.get(Organization, data.get("o"))
        if conn is None or user is None or org is None or not user.active:
            return _refusal(Forbidden("This account cannot sign in.", code="user_deactivated"))
        if data.get("r") is None:
            # IdP-initiated: nothing binds the token to this browser, so it is single-use.
            try:
                service.claim_assertion(s, conn, f"done:{data.get('a')}", None)
            except AuthenticationFailed as err:
                return _refusal(err)
        auth.login(user)
    return redirect(_landing(org, next_url), code=303)


def _provision(s, org, conn, identity):
    try:
        uid, target = flow.complete(s, org, conn, identity)
    except ConnectorError as err:
        service.record_attempt(s, org, conn, "failure", err.code, err.message,
                               subject=identity.external_id or "", email=identity.email or "")
        raise
    service.record_attempt(s, org, conn, "success", subject=identity.external_id or "",
                           email=identity.email or "", user_id=uid)
    return uid, target


def _link_or_refusal(err: ConnectorError):
    if isinstance(err, flow.LinkRequired):
        return redirect(url_for(".link", t=err.token), code=303)
    return _refusal(err)


def _complete(s, org, conn, identity, next_url):
    try:
        uid, target = _provision(s, org, conn, identity)
    except ConnectorError as err:
        return _link_or_refusal(err)
    auth.login(s.get(User, uid))
    return redirect(_landing(target, next_url), code=303)


def _show_test(s, org, conn, claims):
    """'Test connection': show what the IdP sent, sign no one in, change no one."""
    conn.last_test = {"claims": claims}
    service.record_attempt(s, org, conn, "test", "test_connection",
                           subject=str(claims.get("sub") or claims.get("nameid") or ""),
                           email=str(claims.get("email") or ""))
    return _page("test.html", org=org, conn=conn, claims=claims)


@bp.route("/link", methods=["GET", "POST"])
def link():
    """Sign in to the existing account first, then confirm linking the identity to it."""
    token = request.values.get("t", "")
    try:
        data = flow.unsign("link", token, max_age=900)
    except AuthenticationFailed as err:
        return _refusal(err)
    user = auth.current_user()
    if request.method == "GET" or user is None:
        login_url = url_for("console.login", next=url_for(".link", t=token)) \
            if "console.login" in current_app.view_functions else None
        return _page("link.html", token=token, user=user, login_url=login_url,
                     email=(data.get("i") or {}).get("email"))
    with db.transaction() as s:
        try:
            uid, target, _conn = flow.confirm_link(s, token, user.id, user.email)
        except ConnectorError as err:
            return _refusal(err)
    auth.login(db.session().get(User, uid))
    return redirect(_landing(target, None), code=303)


@bp.get("/<account>/<name>/metadata")
def saml_metadata(account: str, name: str):
    """The SP metadata an IdP admin imports (stable URL per connection)."""
    try:
        org, conn = _load(db.session(), account, name)
        if conn.kind != "saml":
            raise NotFound("This connection is not SAML.", code="sso_not_found")
        xml = saml.sp_metadata(service.saml_settings(org, conn))
    except ConnectorError as err:
        return _refusal(err)
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "POST":
        auth.logout()
        return redirect("/", code=303)
    return _page("logout.html")


@bp.errorhandler(ConnectorError)
def _errors(err: ConnectorError):
    return _refusal(err)

