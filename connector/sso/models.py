"""SSO tables: connections per organization, every sign-in attempt, and the SAML replay cache."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class SsoConnection(Base):
    """One identity provider an organization signs in with. Non-secret settings live in
    ``config``; the client secret (OIDC) or the SP private key (SAML) is sealed in ``secret``."""

    __tablename__ = "sso_connections"
    __table_args__ = (UniqueConstraint("organization_id", "name"),
                      # One IdP entity id, or one issuer + client id, serves one organization.
                      UniqueConstraint("idp_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 index=True)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))          # "oidc" or "saml"
    preset: Mapped[str] = mapped_column(String(20), default="generic")
    idp_key: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str] = mapped_column(Text, default="")   # secretbox.seal(...)
    # The claims/attributes of the last "test connection" sign-in, for the admin to inspect.
    last_test: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SigninAttempt(Base):
    """Every SSO sign-in attempt, so an admin can debug a setup without server logs."""

    __tablename__ = "sso_signin_attempts"
    __table_args__ = (Index("ix_sso_attempts_org", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_connections.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(20))        # "success" or "failure"
    reason: Mapped[str] = mapped_column(String(60), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SamlReplay(Base):
    """Assertion ids already accepted, kept until their NotOnOrAfter: shared by every worker."""

    __tablename__ = "sso_saml_replays"

    assertion_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("sso_connections.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
