"""SSO connections of an organization: create, list, remove, their URLs and the provider
settings built from them; sign-in attempts and the SAML replay cache."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from providers import oidc, saml
from providers.presets import require_preset

from .. import domains, secretbox
from ..db import utcnow
from ..errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from ..events import record
from ..identity import Actor
from ..models import Organization, OrganizationDomain
from .models import SamlReplay, SigninAttempt, SsoConnection

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


# -- connections --------------------------------------------------------------------------------

def _check_name(session: Session, org: Organization, name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise InvalidInput("A connection name is 1-60 lowercase letters, digits, '-' or '_'.",
                           code="invalid_name")
    if get_connection(session, org, name) is not None:
        raise Conflict(f"{org.account} already has a connection named {name!r}.",
                       code="sso_name_taken")
    return name


def _claim_idp(session: Session, idp_key: str) -> None:
    taken = session.scalar(select(SsoConnection.id).where(SsoConnection.idp_key == idp_key))
    if taken is not None:
        # One IdP (entity id, or issuer + client id) serves one organization: otherwise its
        # users could be steered into whichever organization configured it too.
        raise Conflict("This identity provider is already connected to an organization.",
                       code="sso_idp_taken")


def _domains(session: Session, org: Organization, names: list[str], actor: Actor) -> list[str]:
    """Connection domains drive home-realm discovery; each becomes a domain of the org."""
    out = []
    for d in names or []:
        out.append(domains.add_domain(session, org, d, actor=actor).domain)
    return sorted(set(out))


def create_oidc(session: Session, org: Organization, *, name: str, issuer: str, client_id: str,
                client_secret: str, actor: Actor, preset: str | None = None,
                domains_: list[str] | None = None, scopes: list[str] | None = None,
                tenants: list[str] | None = None, discovery_url: str = "") -> SsoConnection:
    """Add an OIDC connection; the client secret is stored encrypted."""
    name = _check_name(session, org, name)
    p = require_preset(preset)
    issuer = (issuer or "").strip()
    if not issuer.startswith(("https://", "http://")) or not client_id or not client_secret:
        raise InvalidInput("An OIDC connection needs an http(s) issuer, a client id and a "
                           "client secret.", code="invalid_oidc")
    doms = _domains(session, org, domains_ or [], actor)
    config: dict[str, Any] = {"issuer": issuer, "client_id": client_id,
                              "scopes": list(scopes or p.scopes), "domains": doms,
                              "allowed_tenants": list(tenants or []),
                              "hosted_domains": doms if p.name == "google" else [],
                              "discovery_url": discovery_url}
    p.validate_config(config)
    key = f"oidc|{issuer.rstrip('/')}|{client_id}"
    _claim_idp(session, key)
    conn = SsoConnection(organization_id=org.id, name=name, kind="oidc", preset=p.name,
                         idp_key=key, config=config, secret=secretbox.seal(client_secret))
    return _insert(session, org, conn, actor)


def create_saml(session: Session, org: Organization, *, name: str, actor: Actor,
                metadata_xml: str | None = None, metadata_url: str | None = None,
                domains_: list[str] | None = None, sign_requests: bool = False,
                want_encrypted: bool = False, allow_idp_initiated: bool = False,
                id_attribute: str = "") -> SsoConnection:
    """Add a SAML connection from IdP metadata (XML or URL); the SP key pair is generated."""
    name = _check_name(session, org, name)
    if bool(metadata_xml) == bool(metadata_url):
        raise InvalidInput("Give the IdP metadata as a file or as a URL (one of them).",
                           code="metadata_required")
    if metadata_url:
        conf = current_app.config
        metadata_xml = saml.fetch_idp_metadata(
            metadata_url, timeout=float(conf.get("SSO_FETCH_TIMEOUT", 5)),
            max_bytes=int(conf.get("SSO_METADATA_MAX_BYTES", 1_000_000)))
    idp = saml.parse_idp_metadata(metadata_xml or "")
    doms = _domains(session, org, domains_ or [], actor)
    key = f"saml|{idp['entity_id']}"
    _claim_idp(session, key)
    cert, sp_key = saml.generate_sp_keypair(f"connector {org.account} {name}")
    config = {"idp_entity_id": idp["entity_id"], "idp_sso_url": idp["sso_url"],
              "idp_certs": idp["certs"], "metadata_url": metadata_url or "",
              "domains": doms, "sp_cert": cert, "sign_requests": sign_requests,
              "want_encrypted": want_encrypted, "allow_idp_initiated": allow_idp_initiated,
              "id_attribute": id_attribute, "attributes": {}}
    conn = SsoConnection(organization_id=org.id, name=name, kind="saml", preset="generic",
                         idp_key=key, config=config, secret=secretbox.seal(sp_key))
    return _insert(session, org, conn, actor)


def _insert(session: Session, org: Organization, conn: SsoConnection,
            actor: Actor) -> SsoConnection:
    try:
        with session.begin_nested():
            session.add(conn)
            session.flush()
    except IntegrityError:
        raise Conflict("This identity provider or name is already in use.",
                       code="sso_idp_taken") from None
    record(session, org.id, "sso.connection_added", source="manual", actor=actor.label,
           target_type="sso_connection", target_id=conn.id, name=conn.name, kind=conn.kind)
    return conn


def update_connection(session: Session, org: Organization, conn: SsoConnection,
                      changes: dict[str, Any], *, actor: Actor) -> SsoConnection:
    """Change the few settings an admin tunes after creation."""
    allowed = {"enabled", "allow_idp_initiated", "sign_requests", "want_encrypted",
               "allowed_tenants", "id_attribute", "attributes", "idp_certs"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.",
                           code="unknown_field")
    config = dict(conn.config)
    for k, v in changes.items():
        if k == "enabled":
            conn.enabled = bool(v)
        else:
            config[k] = v
    conn.config = config
    record(session, org.id, "sso.connection_updated", source="manual", actor=actor.label,
           target_type="sso_connection", target_id=conn.id, fields=sorted(changes))
    return conn


def get_connection(session: Session, org: Organization, name: str) -> SsoConnection | None:
    return session.scalar(select(SsoConnection).where(
        SsoConnection.organization_id == org.id, SsoConnection.name == (name or "").lower()))


def require_connection(session: Session, org: Organization, name: str) -> SsoConnection:
    conn = get_connection(session, org, name)
    if conn is None:
        raise NotFound(f"{org.account} has no SSO connection {name!r}.",
                       code="sso_connection_not_found")
    return conn


def list_connections(session: Session, org: Organization) -> list[SsoConnection]:
    return list(session.scalars(select(SsoConnection).where(
        SsoConnection.organization_id == org.id).order_by(SsoConnection.name)))


def remove_connection(session: Session, org: Organization, name: str, *, actor: Actor) -> None:
    conn = require_connection(session, org, name)
    session.delete(conn)
    record(session, org.id, "sso.connection_removed", source="manual", actor=actor.label,
           target_type="sso_connection", target_id=conn.id, name=conn.name)


# -- URLs and provider settings -----------------------------------------------------------------

def base_url() -> str:
    base = current_app.config.get("BASE_URL") or ""
    if not base and has_request_context():
        base = request.host_url
    return base.rstrip("/")


def urls(org: Organization, conn: SsoConnection) -> dict[str, str]:
    root = f"{base_url()}/sso/{org.account}/{conn.name}"
    out = {"login_url": root + "/login"}
    if conn.kind == "oidc":
        out["redirect_uri"] = root + "/callback"
    else:
        out.update(acs_url=root + "/acs", metadata_url=root + "/metadata",
                   entity_id=root + "/metadata")
    return out


def oidc_settings(org: Organization, conn: SsoConnection) -> oidc.Settings:
    c = conn.config
    return oidc.Settings(issuer=c["issuer"], client_id=c["client_id"],
                         client_secret=secretbox.open(conn.secret),
                         redirect_uri=urls(org, conn)["redirect_uri"], preset=conn.preset,
                         scopes=tuple(c.get("scopes") or ()),
                         leeway=int(current_app.config.get("SSO_CLOCK_SKEW", 60)),
                         discovery_url=c.get("discovery_url") or "", config=c)


def saml_settings(org: Organization, conn: SsoConnection) -> saml.Settings:
    c = conn.config
    u = urls(org, conn)
    return saml.Settings(sp_entity_id=u["entity_id"], acs_url=u["acs_url"],
                         sp_cert=c["sp_cert"], sp_key=secretbox.open(conn.secret),
                         idp_entity_id=c["idp_entity_id"], idp_sso_url=c["idp_sso_url"],
                         idp_certs=tuple(c["idp_certs"]),
                         sign_requests=bool(c.get("sign_requests")),
                         want_encrypted=bool(c.get("want_encrypted")),
                         allow_idp_initiated=bool(c.get("allow_idp_initiated")),
                         id_attribute=c.get("id_attribute") or "",
                         clock_skew=int(current_app.config.get("SSO_CLOCK_SKEW", 60)),
                         attributes=c.get("attributes") or {})


def connection_dict(org: Organization, conn: SsoConnection, *, with_test: bool = False) -> dict:
    """JSON shape for the API and CLI (never the secret)."""
    from ..api.serialize import iso
    c = conn.config
    out = {"name": conn.name, "kind": conn.kind, "preset": conn.preset, "enabled": conn.enabled,
           "domains": c.get("domains", []), **urls(org, conn),
           "created_at": iso(conn.created_at)}
    if conn.kind == "oidc":
        out.update(issuer=c["issuer"], client_id=c["client_id"], scopes=c.get("scopes"),
                   allowed_tenants=c.get("allowed_tenants", []))
    else:
        out.update(idp_entity_id=c["idp_entity_id"], idp_sso_url=c["idp_sso_url"],
                   idp_certificates=len(c["idp_certs"]),
                   allow_idp_initiated=bool(c.get("allow_idp_initiated")),
                   sign_requests=bool(c.get("sign_requests")),
                   want_encrypted=bool(c.get("want_encrypted")))
    if with_test:
        out["last_test"] = conn.last_test or None
    return out


# -- home-realm discovery -----------------------------------------------------------------------

def discover(session: Session, email: str) -> list[tuple[Organization, SsoConnection]]:
    """Enabled connections of organizations that verified the email's domain."""
    domain = (email or "").rpartition("@")[2].strip().lower()
    if not domain:
        return []
    rows = session.execute(select(Organization, SsoConnection).join(
        OrganizationDomain, OrganizationDomain.organization_id == Organization.id).join(
        SsoConnection, SsoConnection.organization_id == Organization.id).where(
        OrganizationDomain.domain == domain, OrganizationDomain.verified_at.is_not(None),
        Organization.deleted_at.is_(None), SsoConnection.enabled.is_(True))
        .order_by(Organization.account, SsoConnection.name)).all()
    # A connection limited to some domains is offered only for those.
    return [(o, c) for o, c in rows if not c.config.get("domains") or domain in c.config["domains"]]


# -- attempts and replay cache ------------------------------------------------------------------

def record_attempt(session: Session, org: Organization, conn: SsoConnection | None,
                   outcome: str, reason: str = "", message: str = "", subject: str = "",
                   email: str = "", user_id: int | None = None) -> SigninAttempt:
    """Keep one row per attempt, so admins can debug without server logs."""
    row = SigninAttempt(organization_id=org.id, connection_id=conn.id if conn else None,
                        outcome=outcome, reason=reason[:60], message=message[:2000],
                        subject=(subject or "")[:300], email=(email or "")[:320], user_id=user_id)
    session.add(row)
    session.flush()
    return row


def list_attempts(session: Session, org: Organization, connection: str | None = None,
                  limit: int = 100) -> list[tuple[SigninAttempt, str | None]]:
    q = select(SigninAttempt, SsoConnection.name).outerjoin(
        SsoConnection, SsoConnection.id == SigninAttempt.connection_id).where(
        SigninAttempt.organization_id == org.id)
    if connection:
        q = q.where(SsoConnection.name == connection.lower())
    return list(session.execute(q.order_by(SigninAttempt.id.desc()).limit(
        max(1, min(limit, 1000)))).tuples())


def attempt_dict(a: SigninAttempt, connection: str | None) -> dict:
    from ..api.serialize import iso
    return {"id": a.id, "connection": connection, "outcome": a.outcome, "reason": a.reason,
            "message": a.message, "subject": a.subject, "email": a.email,
            "user_id": a.user_id, "created_at": iso(a.created_at)}


def claim_assertion(session: Session, conn: SsoConnection, assertion_id: str,
                    not_on_or_after: int | None) -> None:
    """Accept an assertion id once until it expires; the table is shared by every worker."""
    now = utcnow()
    session.execute(delete(SamlReplay).where(SamlReplay.expires_at < now))
    skew = timedelta(seconds=int(current_app.config.get("SSO_CLOCK_SKEW", 60)))
    expires = datetime.fromtimestamp(not_on_or_after, timezone.utc) + skew \
        if not_on_or_after else now + timedelta(hours=1)
    key = f"{conn.id}:{assertion_id}"[:300]
    try:
        with session.begin_nested():
            session.add(SamlReplay(assertion_id=key, connection_id=conn.id,
                                   expires_at=max(expires, now + skew)))
            session.flush()
    except IntegrityError:
        raise AuthenticationFailed("This SAML assertion was already used.",
                                   code="replayed") from None
