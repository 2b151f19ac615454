"""The neutral, unsaved record every source builds, and what the pipeline answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    SCIM = "scim"
    OIDC = "oidc"
    SAML = "saml"
    INVITE_CODE = "invite_code"
    INVITATION = "invitation"
    CSV = "csv"
    GENERATED = "generated"
    LDAP = "ldap"
    MANUAL = "manual"  # an admin through the console, API or CLI


# Sources that own a user's attributes once they create or claim it (source precedence).
AUTHORITATIVE = frozenset({Source.SCIM, Source.LDAP})
# Sources whose identities come from the organization's own identity provider.
IDP_SOURCES = frozenset({Source.SCIM, Source.OIDC, Source.SAML, Source.LDAP})
# Sources an admin drives; they may reactivate a deactivated member.
ADMIN_SOURCES = frozenset({Source.CSV, Source.GENERATED, Source.MANUAL, Source.SCIM, Source.LDAP})


class Outcome(StrEnum):
    CREATED = "created"
    JOINED = "joined"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Stable codes for rejected records."""

    INVALID_EMAIL = "invalid_email"
    INVALID_USERNAME = "invalid_username"
    MISSING_IDENTIFIER = "missing_identifier"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    AMBIGUOUS_MATCH = "ambiguous_match"
    EMAIL_TAKEN = "email_taken"
    USERNAME_TAKEN = "username_taken"
    DOMAIN_NOT_ALLOWED = "domain_not_allowed"
    SEATS_FULL = "seats_full"
    SOURCE_NOT_ALLOWED = "source_not_allowed"
    MANAGED_ELSEWHERE = "managed_elsewhere"
    MEMBER_DEACTIVATED = "member_deactivated"
    USER_DEACTIVATED = "user_deactivated"
    UNKNOWN_ROLE = "unknown_role"
    ROLE_ESCALATION = "role_escalation"
    UNKNOWN_SUB_ORGANIZATION = "unknown_sub_organization"
    ADMIN_LIMIT = "admin_limit"
    UNKNOWN_USER = "unknown_user"


@dataclass(frozen=True)
class Identity:
    """A person as one source sees them. Nothing here is trusted until the pipeline checks it."""

    external_id: str | None = None        # stable id at the source (SCIM id, sub, objectGUID)
    email: str | None = None
    email_verified: bool = False          # the source vouches for the address
    username: str | None = None
    source_username: str | None = None    # the source's own login name (SCIM userName, NameID)
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    active: bool | None = None            # None: the source says nothing about it
    role: str | None = None               # an explicit role for the membership
    groups: tuple[str, ...] | None = None  # group names/ids; None: leave groups alone
    sub_organization: str | None = None   # account of a sub-organization to join instead
    password: str | None = None           # plaintext, hashed by the pipeline
    password_hash: str | None = None      # already hashed (bulk jobs hash in parallel)
    must_change_password: bool | None = None
    user_id: int | None = None            # a signed-in person joining as themselves
    profile: dict[str, Any] = field(default_factory=dict)   # extra attributes for User.profile
    link_data: dict[str, Any] = field(default_factory=dict)  # stored on the linked identity


@dataclass(frozen=True)
class Result:
    """What happened to one record."""

    index: int
    outcome: Outcome
    user_id: int | None = None
    organization_id: int | None = None
    reason: Reason | None = None
    message: str = ""
    changes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome is not Outcome.REJECTED


@dataclass(frozen=True)
class Actor:
    """Who asked for a change, for audit and for the no-escalation rule."""

    label: str                    # "user:5", "api_key:3", "cli", "scim_token:7"
    rank: int = 1000              # highest role rank the actor may grant; operators have all
    user_id: int | None = None

    @classmethod
    def operator(cls) -> Actor:
        """The platform operator at the command line."""
        return cls("cli")

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(label)
