"""Who is calling: the organization a SCIM token selects, and how to name our resources."""
from __future__ import annotations

from dataclasses import dataclass

from connector.identity import Actor, Source
from connector.models import Organization

SOURCE = Source.SCIM


@dataclass(frozen=True)
class Tenant:
    """One request's organization, actor and base URL."""

    org: Organization
    actor: Actor
    base_url: str     # .../scim/v2, for meta.location and $ref

    @property
    def connection(self) -> str:
        # The pipeline's name for this organization's SCIM source (LinkedIdentity.connection).
        return f"scim:{self.org.id}"

    def location(self, kind: str, scim_id: str) -> str:
        return f"{self.base_url}/{'Users' if kind == 'User' else 'Groups'}/{scim_id}"


def etag(version: int) -> str:
    """A weak ETag from a row version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None
