"""SCIM's own projection tables: the attributes an IdP pushes, in columns SQL can filter on.

The person, membership and linked identity live in the core tables and are written only by the
pipeline; these rows are written in the same transaction so a filter never reads Python lists."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base, UTCDateTime, utcnow


class ScimUser(Base):
    """One SCIM User resource of one organization (RFC 7643 §4.1)."""

    __tablename__ = "scim_users"
    __table_args__ = (
        # RFC 7643 §4.1.1: userName is unique in the service provider's scope and case-insensitive.
        # The constraint, not a check in Python, is what holds under concurrent POSTs.
        UniqueConstraint("organization_id", "user_name_folded", name="uq_scim_users_username"),
        UniqueConstraint("organization_id", "external_id", name="uq_scim_users_external_id"),
        # Live rows of an organization in id order: counts and pages read only this index.
        Index("ix_scim_users_org_live", "organization_id", "deleted_at", "id"),
        Index("ix_scim_users_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The opaque SCIM id; also LinkedIdentity.external_id of connection "scim:<org id>".
    scim_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(300))
    user_name_folded: Mapped[str | None] = mapped_column(String(300))  # NULL once tombstoned
    external_id: Mapped[str | None] = mapped_column(String(300))
    display_name: Mapped[str | None] = mapped_column(String(300))
    nick_name: Mapped[str | None] = mapped_column(String(200))
    formatted_name: Mapped[str | None] = mapped_column(String(300))
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    middle_name: Mapped[str | None] = mapped_column(String(200))
    honorific_prefix: Mapped[str | None] = mapped_column(String(50))
    honorific_suffix: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(200))
    user_type: Mapped[str | None] = mapped_column(String(100))
    preferred_language: Mapped[str | None] = mapped_column(String(50))
    locale: Mapped[str | None] = mapped_column(String(50))
    timezone: Mapped[str | None] = mapped_column(String(100))
    profile_url: Mapped[str | None] = mapped_column(String(1000))
    employee_number: Mapped[str | None] = mapped_column(String(100))
    cost_center: Mapped[str | None] = mapped_column(String(100))
    organization: Mapped[str | None] = mapped_column(String(200))
    division: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    manager_id: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The whole resource as stored (canonical attribute names, no password, id, meta or groups).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScimUserValue(Base):
    """One value of a multi-valued attribute (emails, phoneNumbers, addresses, ims, ...)."""

    __tablename__ = "scim_user_values"
    __table_args__ = (Index("ix_scim_user_values_user", "scim_user_id", "attr"),
                      Index("ix_scim_user_values_value", "organization_id", "attr", "value_folded"))

    id: Mapped[int] = mapped_column(primary_key=True)
    scim_user_id: Mapped[int] = mapped_column(ForeignKey("scim_users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    attr: Mapped[str] = mapped_column(String(30))
    type: Mapped[str | None] = mapped_column(String(50))
    primary: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[str | None] = mapped_column(String(1000))
    value_folded: Mapped[str | None] = mapped_column(String(1000))
    display: Mapped[str | None] = mapped_column(String(300))
    formatted: Mapped[str | None] = mapped_column(String(1000))
    street_address: Mapped[str | None] = mapped_column(String(500))
    locality: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(50))
    country: Mapped[str | None] = mapped_column(String(50))


class ScimGroup(Base):
    """SCIM facts about a core Group: its opaque id is Group.external_id; the IdP's externalId
    is kept here."""

    __tablename__ = "scim_groups"
    __table_args__ = (UniqueConstraint("organization_id", "external_id",
                                       name="uq_scim_groups_external_id"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"),
                                          primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 index=True)
    external_id: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # unknown extensions


class ScimRequest(Base):
    """One SCIM request an organization's token made, for the console's "recent requests"
    (so a failing IdP setup can be debugged without server logs). Pruned to the newest."""

    __tablename__ = "scim_requests"
    __table_args__ = (Index("ix_scim_requests_org", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    token_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    scim_type: Mapped[str | None] = mapped_column(String(40))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
