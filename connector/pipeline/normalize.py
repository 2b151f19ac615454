"""Step 1 of the pipeline: case-fold, trim and validate each record."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from ..identity import Identity, Reason
from ..roles import RANKS

# Deliberately plain: one @, a dotted domain of LDH labels, no spaces or control characters.
# (A full RFC 5322 parser accepts addresses no mail system delivers to.)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,149}$")


@dataclass(frozen=True)
class Normalized:
    """A record after normalization, or the reason it was rejected."""

    identity: Identity
    reason: Reason | None = None
    message: str = ""


def normalize_email(value: str | None) -> str | None:
    """Trim and case-fold an address; None for empty."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).strip()
    return value.lower() or None


def normalize_username(value: str | None) -> str | None:
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).strip().lower()
    return value or None


def valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and ".." not in value.split("@")[0]


def email_domain(email: str | None) -> str | None:
    return email.rsplit("@", 1)[1] if email and "@" in email else None


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    return " ".join(value.split())


def normalize(identity: Identity) -> Normalized:
    """Normalize one record."""
    email = normalize_email(identity.email)
    username = normalize_username(identity.username)
    if email is not None and not valid_email(email):
        return Normalized(identity, Reason.INVALID_EMAIL, f"{identity.email!r} is not a valid email address.")
    if username is not None and not USERNAME.match(username):
        return Normalized(identity, Reason.INVALID_USERNAME,
                          f"{identity.username!r} is not a valid username (letters, digits, . _ @ + -).")
    if identity.role is not None and identity.role not in RANKS:
        return Normalized(identity, Reason.UNKNOWN_ROLE, f"Unknown role {identity.role!r}.")
    if not (email or username or identity.external_id or identity.user_id):
        return Normalized(identity, Reason.MISSING_IDENTIFIER,
                          "A record needs an email, a username, an external id or a user.")
    sub = identity.sub_organization.strip().lower() if identity.sub_organization else None
    return Normalized(replace(
        identity, email=email, username=username,
        external_id=identity.external_id.strip() if identity.external_id else identity.external_id,
        source_username=normalize_username(identity.source_username),
        given_name=clean(identity.given_name), family_name=clean(identity.family_name),
        display_name=clean(identity.display_name), sub_organization=sub or None,
        groups=tuple(g.strip() for g in identity.groups if g and g.strip())
        if identity.groups is not None else None))
