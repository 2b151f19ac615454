"""What the pipeline loads once per batch: the organization's policy and every match candidate.

Matching is set-based: a fixed number of queries per batch whatever its size."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..models import (Group, GroupMember, LinkedIdentity, Membership, MembershipStatus,
                      Organization, OrganizationDomain, User)
from ..roles import ADMIN_ROLES

T = TypeVar("T")
CHUNK = 500  # keeps IN lists under every backend's parameter limit


def _in(name: str):
    return bindparam(name, expanding=True)


# The statements are built once: building a select and its cache key costs more Python time
# than SQLite takes to run it (a SCIM create runs a batch of one, issue 3).
_VERIFIED_DOMAINS = select(OrganizationDomain.domain).where(
    OrganizationDomain.organization_id.in_(_in("orgs")),
    OrganizationDomain.verified_at.is_not(None))
_LINKS = select(LinkedIdentity).where(LinkedIdentity.connection == bindparam("connection"),
                                      LinkedIdentity.external_id.in_(_in("keys")))
_USERS_BY_EMAIL = select(User).where(User.email.in_(_in("keys")), User.deleted_at.is_(None))
_USERS_BY_USERNAME = select(User).where(User.username.in_(_in("keys")))
_USERS_BY_ID = select(User).where(User.id.in_(_in("keys")))
_MEMBERSHIPS = select(Membership).where(Membership.user_id.in_(_in("keys")),
                                        Membership.organization_id.in_(_in("orgs")))
_ADMIN_ELSEWHERE = select(Membership.user_id).where(
    Membership.user_id.in_(_in("keys")), Membership.role.in_(ADMIN_ROLES),
    Membership.status == MembershipStatus.ACTIVE, Membership.organization_id.not_in(_in("orgs")))
_ORG_PATHS = select(Organization.id, Organization.path).where(Organization.id.in_(_in("keys")))


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    buf: list[T] = []
    for v in values:
        buf.append(v)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


@dataclass
class Policy:
    """The organization's rules for one batch."""

    org: Organization
    verified_domains: frozenset[str]
    allowed_domains: frozenset[str]      # empty: any domain
    create_sources: frozenset[str] | None  # None: every source may create users
    role_mapping: dict[str, str]         # IdP group/claim value -> role
    one_admin_org: bool
    # Who may join by themselves: "verified_domain" (SSO auto-join on verified domains, codes,
    # invitations), "invite_only" (codes and invitations only), "closed" (admin sources only).
    join_policy: str = "verified_domain"

    @classmethod
    def load(cls, session: Session, org: Organization, one_admin_org: bool,
             with_domains: bool = True) -> Policy:
        verified = session.scalars(_VERIFIED_DOMAINS, {"orgs": org.ancestor_ids}).all() \
            if with_domains else ()
        s = org.settings or {}
        create = s.get("create_sources")
        return cls(org=org, verified_domains=frozenset(verified),
                   allowed_domains=frozenset(d.lower() for d in s.get("allowed_domains") or ()),
                   create_sources=frozenset(create) if create is not None else None,
                   role_mapping=dict(s.get("role_mapping") or {}), one_admin_org=one_admin_org,
                   join_policy=s.get("join_policy") or "verified_domain")


@dataclass
class Candidates:
    """Existing rows that records of the batch may match."""

    by_link: dict[str, int] = field(default_factory=dict)           # external_id -> user id
    links: dict[str, LinkedIdentity] = field(default_factory=dict)  # external_id -> row
    users: dict[int, User] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)
    by_username: dict[str, int] = field(default_factory=dict)
    memberships: dict[tuple[int, int], Membership] = field(default_factory=dict)  # (org, user)
    roots: dict[int, int] = field(default_factory=dict)            # org id -> root id
    admin_elsewhere: set[int] = field(default_factory=set)          # users admin of another org
    groups: dict[str, Group] = field(default_factory=dict)          # name/ext id -> group
    group_pairs: set[tuple[int, int]] = field(default_factory=set)  # (group, user)
    group_sources: dict[int, str] = field(default_factory=dict)


def load_candidates(session: Session, org: Organization, connection: str | None,
                    external_ids: set[str], emails: set[str], usernames: set[str],
                    user_ids: set[int], target_org_ids: set[int],
                    want_admin_check: bool, c: Candidates | None = None) -> Candidates:
    """Load everything the batch may match, in a handful of set-based queries."""
    c = c or Candidates()
    if connection and external_ids:
        for chunk in chunks(sorted(external_ids)):
            for link in session.scalars(_LINKS, {"connection": connection, "keys": chunk}):
                c.links[link.external_id] = link
                c.by_link[link.external_id] = link.user_id
    wanted_ids = set(user_ids) | set(c.by_link.values())
    for chunk in chunks(sorted(emails)):
        for u in session.scalars(_USERS_BY_EMAIL, {"keys": chunk}):
            c.users[u.id] = u
            c.by_email[u.email] = u.id
    for chunk in chunks(sorted(usernames)):
        for u in session.scalars(_USERS_BY_USERNAME, {"keys": chunk}):
            c.users[u.id] = u
            c.by_username[u.username] = u.id
    missing = wanted_ids - set(c.users)
    for chunk in chunks(sorted(missing)):
        for u in session.scalars(_USERS_BY_ID, {"keys": chunk}):
            c.users[u.id] = u
    if c.users:
        for chunk in chunks(sorted(c.users)):
            for m in session.scalars(_MEMBERSHIPS, {"keys": chunk, "orgs": sorted(target_org_ids)}):
                c.memberships[(m.organization_id, m.user_id)] = m
            if want_admin_check:
                c.admin_elsewhere.update(session.scalars(
                    _ADMIN_ELSEWHERE, {"keys": chunk, "orgs": sorted(target_org_ids)}))
        homes = {u.home_organization_id for u in c.users.values() if u.home_organization_id}
        for chunk in chunks(sorted(homes)):
            for oid, path in session.execute(_ORG_PATHS, {"keys": chunk}):
                c.roots[oid] = int(path.strip("/").split("/")[0])
    return c


def load_groups(session: Session, org: Organization, group_keys: set[str], c: Candidates) -> None:
    """Groups of the organization named (display name, any case) or identified (external id)."""
    for chunk in chunks(sorted(group_keys)):
        folded = [k.lower() for k in chunk]
        for g in session.scalars(select(Group).where(
                Group.organization_id == org.id,
                (func.lower(Group.display_name).in_(folded)) | Group.external_id.in_(chunk))):
            c.groups[g.display_name.lower()] = g
            if g.external_id:
                c.groups[g.external_id] = g


def load_group_pairs(session: Session, org: Organization, c: Candidates) -> None:
    """(group, user) pairs of the matched users in the organization's groups."""
    for chunk in chunks(sorted(c.users)):
        for gid, uid, gsource in session.execute(
                select(GroupMember.group_id, GroupMember.user_id, Group.source)
                .join(Group, Group.id == GroupMember.group_id)
                .where(Group.organization_id == org.id, GroupMember.user_id.in_(chunk))):
            c.group_pairs.add((gid, uid))
            c.group_sources[gid] = gsource


def count_active_seats(session: Session, targets: dict[int, Organization]) -> dict[int, int]:
    """Active members of each target; counted only where a seat limit makes it matter
    (counting a 100,000-member organization on every SCIM create or sign-in is a scan for
    nothing)."""
    counts = {oid: 0 for oid in targets}
    limited = [oid for oid, o in targets.items() if o.seat_limit is not None]
    if not limited:
        return counts
    rows = session.execute(select(Membership.organization_id, func.count()).where(
        Membership.organization_id.in_(limited), Membership.status == MembershipStatus.ACTIVE)
        .group_by(Membership.organization_id)).all()
    counts.update({oid: n for oid, n in rows})
    return counts
