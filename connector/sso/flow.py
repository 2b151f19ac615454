"""What happens after a provider accepted a sign-in: the pipeline decides who joins, the link
confirmation for existing accounts, and the signed hand-over tokens between steps."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from .. import pipeline
from ..errors import AuthenticationFailed, ConnectorError, Forbidden
from ..identity import Actor, Identity, Reason, Source
from ..models import Organization
from . import service
from .models import SsoConnection

# Refusals a person can do nothing about at the IdP: shown as 403 pages.
FORBIDDEN = {Reason.MEMBER_DEACTIVATED, Reason.USER_DEACTIVATED, Reason.SEATS_FULL,
             Reason.DOMAIN_NOT_ALLOWED, Reason.SOURCE_NOT_ALLOWED, Reason.MANAGED_ELSEWHERE,
             Reason.ADMIN_LIMIT}


class LinkRequired(ConnectorError):
    """An account with this email exists but the IdP's email is not trusted enough to link."""

    code = "link_required"
    status = 409

    def __init__(self, token: str) -> None:
        super().__init__("An account with this email already exists: sign in to it first, "
                         "then confirm the link.")
        self.token = token


def _signer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def sign(purpose: str, data: dict[str, Any]) -> str:
    """A tamper-proof token bound to one purpose."""
    return _signer("connector.sso." + purpose).dumps(data)


def unsign(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        data = _signer("connector.sso." + purpose).loads(token or "", max_age=max_age)
    except BadSignature:
        raise AuthenticationFailed("This sign-in link is invalid or has expired. Start again.",
                                   code="bad_token") from None
    if not isinstance(data, dict):
        raise AuthenticationFailed("This sign-in link is invalid.", code="bad_token")
    return data


def relay_state(conn_id: int, request_id: str, test: bool) -> str:
    """A RelayState naming our AuthnRequest, tamper-proof and bound to the connection.
    SAML bindings §3.4.3 caps RelayState at 80 bytes, so no serializer: "<flag+time>.<id>.<mac>"
    (python3-saml ids are 49 characters; the rest of the sign-in waits in the session)."""
    # 5 bytes of Unix time: 8 base32 characters, no padding.
    stamp = ("t" if test else "n") + base64.b32hexencode(
        int(time.time()).to_bytes(5, "big")).decode().lower()
    body = f"{stamp}.{request_id}"
    relay = f"{body}.{_relay_mac(conn_id, body)}"
    if len(relay) > 80:
        raise AuthenticationFailed("The SAML request id is too long.", code="saml_misconfigured")
    return relay


def parse_relay(conn_id: int, relay: str, max_age: int = 3600) -> tuple[str, bool]:
    """The request id and test flag of a RelayState we issued for this connection."""
    body, _, mac = (relay or "").rpartition(".")
    stamp, _, request_id = body.partition(".")
    if not (stamp and request_id and hmac.compare_digest(mac, _relay_mac(conn_id, body))):
        raise AuthenticationFailed("The response is not for a sign-in started here.",
                                   code="bad_relay_state")
    issued = int.from_bytes(base64.b32hexdecode(stamp[1:].upper()), "big")
    if not 0 <= time.time() - issued <= max_age:
        raise AuthenticationFailed("This sign-in took too long. Start again.",
                                   code="bad_relay_state")
    return request_id, stamp[0] == "t"


def _relay_mac(conn_id: int, body: str) -> str:
    key = hashlib.sha256(b"connector.sso.relay|" + current_app.config["SECRET_KEY"].encode())
    mac = hmac.new(key.digest(), f"{conn_id}|{body}".encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac).decode()


def identity_to_dict(ident: Identity) -> dict[str, Any]:
    d = dataclasses.asdict(ident)
    d["groups"] = list(ident.groups) if ident.groups is not None else None
    return {k: v for k, v in d.items() if v not in (None, {}, "") or k == "groups"}


def identity_from_dict(d: dict[str, Any]) -> Identity:
    names = {f.name for f in dataclasses.fields(Identity)}
    d = {k: v for k, v in d.items() if k in names and k not in ("password", "password_hash")}
    if d.get("groups") is not None:
        d["groups"] = tuple(d["groups"])
    return Identity(**d)


def source_of(conn: SsoConnection) -> Source:
    return Source.OIDC if conn.kind == "oidc" else Source.SAML


def complete(session: Session, org: Organization, conn: SsoConnection,
             identity: Identity) -> tuple[int, Organization]:
    """Provision through the pipeline; the user id and the organization joined (a group may
    send the person to a sub-organization). Raises for every refusal."""
    [r] = pipeline.provision(session, org, [identity], source=source_of(conn),
                             actor=Actor.system(f"sso:{conn.id}"),
                             connection=f"{conn.kind}:{conn.id}", groups_mode="sync")
    if r.ok:
        target = session.get(Organization, r.organization_id) or org
        return r.user_id, target
    if r.reason in (Reason.EMAIL_TAKEN, Reason.AMBIGUOUS_MATCH) and identity.email:
        # The email belongs to an account we may not link on the IdP's word alone.
        raise LinkRequired(sign("link", {"c": conn.id, "o": org.id,
                                         "i": identity_to_dict(identity)}))
    if r.reason in FORBIDDEN:
        raise Forbidden(r.message, code=r.reason.value)
    raise AuthenticationFailed(r.message or "The sign-in was refused.",
                               code=r.reason.value if r.reason else "rejected")


def confirm_link(session: Session, token: str, user_id: int, user_email: str | None
                 ) -> tuple[int, Organization, SsoConnection]:
    """The signed-in owner of the account confirms: link the identity to them."""
    data = unsign("link", token, max_age=900)
    conn = session.get(SsoConnection, data.get("c"))
    org = session.get(Organization, data.get("o"))
    if conn is None or org is None or conn.organization_id != org.id:
        raise AuthenticationFailed("This connection no longer exists.", code="bad_token")
    ident = identity_from_dict(data.get("i") or {})
    if not user_email or (ident.email or "").casefold() != user_email.casefold():
        raise Forbidden("You are signed in to a different account than the one with this "
                        "email. Sign out and sign in to the right account.",
                        code="link_wrong_account")
    ident = dataclasses.replace(ident, user_id=user_id)
    uid, target = complete(session, org, conn, ident)
    service.record_attempt(session, org, conn, "success", "linked", subject=ident.external_id
                           or "", email=ident.email or "", user_id=uid)
    return uid, target, conn
