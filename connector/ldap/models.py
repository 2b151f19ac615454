"""Directory sources of an organization and the report of each sync run."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DRY_RUN = "dry_run"                  # the diff was computed; nothing was written
    NEEDS_CONFIRMATION = "needs_confirmation"  # mass deactivation stopped the run
    FAILED = "failed"                    # includes partial reads: nobody was deprovisioned


class LdapSource(Base):
    __tablename__ = "ldap_sources"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 index=True)
    name: Mapped[str] = mapped_column(String(100))
    urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    start_tls: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_verify: Mapped[bool] = mapped_column(Boolean, default=True)
    ca_file: Mapped[str | None] = mapped_column(String(500))
    bind_dn: Mapped[str] = mapped_column(String(500), default="")
    # Encrypted with connector.secretbox (a key derived from SECRET_KEY): we must send it.
    bind_password_sealed: Mapped[str] = mapped_column(Text, default="")
    base_dn: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(10), default="subtree")
    preset: Mapped[str] = mapped_column(String(30), default="openldap")
    user_filter: Mapped[str] = mapped_column(Text, default="")
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    group_kind: Mapped[str] = mapped_column(String(30), default="none")
    group_base: Mapped[str] = mapped_column(String(500), default="")
    group_filter: Mapped[str] = mapped_column(Text, default="")
    # Directory group name (case-insensitive) -> role / sub-organization account.
    group_roles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    group_sub_orgs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    page_size: Mapped[int] = mapped_column(Integer, default=500)
    # Minutes between scheduled runs; 0 = manual only.
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    # Percent of the organization's active members a run may deactivate without confirmation;
    # None = the LDAP_MAX_DEACTIVATE_PERCENT setting.
    max_deactivate_percent: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # People of this directory may sign in with their directory username and password.
    allow_signin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Skip continuation references instead of failing the read (AD domain roots).
    ignore_referrals: Mapped[bool] = mapped_column(Boolean, default=False)
    # modifyTimestamp (GeneralizedTime) or uSNChanged of the newest entry of the last good run.
    watermark: Mapped[str | None] = mapped_column(String(40))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Claimed by the worker running it, so two workers never sync one source at once.
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LdapRun(Base):
    __tablename__ = "ldap_runs"
    __table_args__ = (Index("ix_ldap_runs_source", "source_id", "id"),
                      Index("ix_ldap_runs_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ldap_sources.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    confirm_deactivations: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED)
    phase: Mapped[str] = mapped_column(String(20), default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # read, created, updated, unchanged, deactivated, rejected, skipped
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # dn, code, message
    message: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
