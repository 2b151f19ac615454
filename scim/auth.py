"""Bearer-token authentication: the token selects the organization (RFC 7644 §2)."""
from __future__ import annotations

from flask import current_app, request
from sqlalchemy.orm import Session

from connector import credentials
from connector.errors import Unauthorized as DomainUnauthorized
from connector.identity import Actor
from connector.models import CredentialKind
from connector.roles import RANKS

from . import errors, requestlog
from .context import Tenant


def base_url() -> str:
    root = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    return f"{root}/scim/v2"


def tenant(session: Session) -> Tenant:
    """The caller's organization, or 401 in the SCIM error schema. Tokens are never logged."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("Send the organization's SCIM token as "
                                  "'Authorization: Bearer <token>'.")
    try:
        cred, org = credentials.authenticate_org(session, CredentialKind.SCIM_TOKEN,
                                                 token.strip())
    except DomainUnauthorized:
        raise errors.Unauthorized("The token is invalid, expired or revoked.") from None
    requestlog.attribute(org.id, cred.id)
    # A SCIM token acts like an admin of its organization: it never grants owner.
    return Tenant(org=org, actor=Actor(f"scim_token:{cred.id}", rank=RANKS["admin"]),
                  base_url=base_url())
