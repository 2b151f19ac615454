"""The core tables: organizations, users, memberships, roles, groups, identities, credentials,
audit events, outbox messages and jobs. Feature modules add their own tables beside these."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, UTCDateTime, utcnow


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    # Deprovisioned under the "remove" policy: no access, no seat, no groups; the row stays so
    # that sign-in and invites refuse to let the person back in (only an admin source re-adds).
    REMOVED = "removed"


class CredentialKind(StrEnum):
    API_KEY = "api_key"
    SCIM_TOKEN = "scim_token"
    INVITE_CODE = "invite_code"
    INVITE_TOKEN = "invite_token"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The tenant id everywhere. Unique across live and deleted rows: never reusable.
    account: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Materialized path of ids from the root, "/1/5/9/": subtree = path LIKE '/1/5/%'.
    path: Mapped[str] = mapped_column(String(200), index=True, default="/")
    depth: Mapped[int] = mapped_column(Integer, default=1)
    seat_limit: Mapped[int | None] = mapped_column(Integer)
    default_role: Mapped[str] = mapped_column(String(20), default="member")
    # What deprovisioning does: "deactivate" (keep the membership, inactive) or "remove".
    deprovision_policy: Mapped[str] = mapped_column(String(20), default="deactivate")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    parent: Mapped[Organization | None] = relationship(remote_side=[id], lazy="joined",
                                                      join_depth=1)

    @property
    def root_id(self) -> int:
        return int(self.path.strip("/").split("/")[0])

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this organization."""
        return [int(p) for p in self.path.strip("/").split("/")]


class OrganizationDomain(Base):
    __tablename__ = "organization_domains"
    __table_args__ = (UniqueConstraint("organization_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253), index=True)
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(20))
    rank: Mapped[int] = mapped_column(Integer)
    permissions: Mapped[list[RolePermission]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"),
                                         primary_key=True)
    permission: Mapped[str] = mapped_column(String(40), primary_key=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Case-folded; unique when present. A deleted user's email is released, its username is not.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str | None] = mapped_column(String(150), unique=True)
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    display_name: Mapped[str] = mapped_column(String(300), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The organization that created the account; its admins may manage the profile.
    home_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"),
                                                             index=True)
    # Source precedence: a user managed by SCIM or LDAP of an organization is edited only by it.
    managed_by_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    managed_by_source: Mapped[str | None] = mapped_column(String(20))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Bumped when every session of the user must end (deactivation, password reset).
    security_stamp: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),
                      Index("ix_memberships_user", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=MembershipStatus.ACTIVE)
    # The source that brought the member in (scim, oidc, saml, invite_code, invitation, csv, ...).
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),
                      Index("ix_groups_org_name", "organization_id", "display_name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    display_name: Mapped[str] = mapped_column(String(300))
    external_id: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20), default="manual")
    # Mapping chosen by the organization's admins: members get this role / sub-organization.
    role: Mapped[str | None] = mapped_column(String(20))
    sub_organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_user", "user_id"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"),
                                          primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkedIdentity(Base):
    """(connection, external id) -> user. ``connection`` names the source instance, e.g.
    ``scim:12`` (organization 12's SCIM), ``oidc:3``, ``saml:4``, ``ldap:2``, ``csv:12``."""

    __tablename__ = "linked_identities"
    __table_args__ = (UniqueConstraint("connection", "external_id"),
                      Index("ix_linked_identities_user", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    connection: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str] = mapped_column(String(300))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    # The source's own name for the person (SCIM userName, LDAP DN, NameID), case-folded.
    username: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Credential(Base):
    """API keys, SCIM tokens, invite codes and invite tokens: random, shown once, stored hashed."""

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_org_kind", "organization_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters of the secret, safe to show so admins can tell keys apart.
    hint: Mapped[str] = mapped_column(String(16), default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A credential owned by a person stops working when that person's membership ends.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(80), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_time", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(30), default="")
    target_id: Mapped[str] = mapped_column(String(60), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Not indexed on its own: every query is one organization's events by id (0012).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Shared HMAC secret; receivers need its value, so it is kept (not hashed).
    secret: Mapped[str] = mapped_column(String(200))
    # Event types to deliver; empty means all.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """An email or webhook delivery, written in the transaction of the change that caused it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # "email" or "webhook"
    topic: Mapped[str] = mapped_column(String(60))  # e.g. "invitation", "member.joined"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """A background job (import, account generation, directory sync) with its progress."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_org", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


__all__ = [name for name in dir() if not name.startswith("_") and name != "text"]
from .sso import models as _sso_models  # noqa: E402,F401
from .invites import models as _invites_models  # noqa: E402,F401
from .outbox import models as _outbox_models  # noqa: E402,F401
from scim import models as _scim_models  # noqa: E402,F401
from .imports import models as _imports_models  # noqa: E402,F401
from .ldap import models as _ldap_models  # noqa: E402,F401
