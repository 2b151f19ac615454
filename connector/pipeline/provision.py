"""Normalize -> match -> policy -> apply -> audit, for a batch of identities of one organization."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import Conflict, NotFound
from ..events import EventBatch, record
from ..identity import (ADMIN_SOURCES, AUTHORITATIVE, Actor, Identity, Outcome, Reason, Result,
                        Source)
from ..models import (Group, GroupMember, LinkedIdentity, Membership, MembershipStatus,
                      Organization, User)
from ..roles import ADMIN_ROLES, RANKS
from ..security import hash_password
from .context import (Candidates, Policy, count_active_seats, load_candidates, load_group_pairs,
                      load_groups)
from .normalize import email_domain, normalize

ACTIVE, DEACTIVATED = MembershipStatus.ACTIVE.value, MembershipStatus.DEACTIVATED.value
REMOVED = MembershipStatus.REMOVED.value
# Sources that are a person signing in or joining: they never reactivate a deactivated member.
SELF_SERVICE = frozenset({Source.OIDC, Source.SAML, Source.INVITE_CODE, Source.INVITATION})
PROFILE_FIELDS = ("given_name", "family_name", "display_name")
# Bulk writes use Core statements on the tables: the ORM's bulk machinery costs more per row
# than the database does (issue 6 benchmark).
_USERS = User.__table__


class Rejected(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        self.reason, self.message = reason, message


@dataclass
class Plan:
    index: int
    ident: Identity
    target: Organization
    user: User | None = None
    new_user: dict[str, Any] | None = None
    user_changes: dict[str, Any] = field(default_factory=dict)
    membership: Membership | None = None
    new_role: str | None = None
    member_changes: dict[str, Any] = field(default_factory=dict)
    link: LinkedIdentity | None = None
    link_changes: dict[str, Any] = field(default_factory=dict)
    groups_add: list[Group] = field(default_factory=list)
    groups_remove: list[int] = field(default_factory=list)
    outcome: Outcome = Outcome.UNCHANGED
    changes: list[str] = field(default_factory=list)


def provision(session: Session, org: Organization, identities: list[Identity], *,
              source: Source, actor: Actor, connection: str | None = None,
              dry_run: bool = False, groups_mode: str = "add",
              create_groups: bool = False,
              seats_taken: dict[int, int] | None = None) -> list[Result]:
    """Provision a batch of identities into ``org``; one result per record, in order.

    Runs inside the caller's transaction (never commits). ``dry_run`` computes exactly the same
    results and writes nothing. ``groups_mode="sync"`` makes the user's memberships in this
    source's groups exactly ``identity.groups``. ``seats_taken`` (org id -> seats) counts seats
    that earlier batches of the same dry run would have taken, so a batched dry run predicts
    seat-limit rejections exactly as the commit will meet them."""
    if org.deleted_at is not None:
        raise NotFound(f"Organization {org.account!r} not found.")
    one_admin = bool(current_app.config.get("ONE_ADMIN_ORG_PER_USER")) if has_app_context() else False
    for attempt in range(3):
        savepoint = session.begin_nested()
        try:
            results = _provision(session, org, identities, Source(source), actor, connection,
                                 groups_mode, create_groups, one_admin, seats_taken)
        except IntegrityError:
            # A concurrent transaction created the same person (or group) first: the unique
            # constraint caught it. Match again against what it committed.
            savepoint.rollback()
            session.expire_all()
            if attempt == 2:
                raise Conflict("The records conflict with concurrent changes; retry.",
                               code="concurrent_conflict")
            continue
        except BaseException:
            savepoint.rollback()
            raise
        if dry_run:
            savepoint.rollback()
            session.expire_all()
            return [r if r.outcome is not Outcome.CREATED else
                    Result(r.index, r.outcome, None, r.organization_id, changes=r.changes)
                    for r in results]
        savepoint.commit()
        return results
    raise AssertionError("unreachable")


def _provision(session: Session, org: Organization, identities: list[Identity], source: Source,
               actor: Actor, connection: str | None, groups_mode: str, create_groups: bool,
               one_admin: bool, seats_taken: dict[int, int] | None = None) -> list[Result]:
    # Verified domains matter only to records whose source vouches for the email.
    policy = Policy.load(session, org, one_admin,
                         with_domains=any(i.email_verified for i in identities))
    results: dict[int, Result] = {}
    records: dict[int, Identity] = {}
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(identities):
        n = normalize(raw)
        if n.reason:
            results[i] = Result(i, Outcome.REJECTED, reason=n.reason, message=n.message)
            continue
        ident = n.identity
        keys = [("email", ident.email), ("username", ident.username),
                ("external_id", ident.external_id), ("user", str(ident.user_id or ""))]
        dup = next((k for k in keys if k[1] and k in seen), None)
        if dup:
            results[i] = Result(i, Outcome.REJECTED, reason=Reason.DUPLICATE_IN_BATCH,
                                message=f"Same {dup[0]} as record {seen[dup] + 1} of this batch.")
            continue
        seen.update({k: i for k in keys if k[1]})
        records[i] = ident

    c = Candidates()
    group_keys = {g for ident in records.values() for g in ident.groups or ()}
    load_groups(session, org, group_keys, c)
    if create_groups:
        _create_missing_groups(session, org, group_keys, c, source, actor)
    subs = _sub_organizations(session, org, {i.sub_organization for i in records.values()} |
                              {g.sub_organization_id for g in c.groups.values()})
    targets: dict[int, Organization] = {}
    for i, ident in list(records.items()):
        try:
            targets[i] = _target(org, ident, c, subs)
        except Rejected as r:
            results[i] = Result(i, Outcome.REJECTED, reason=r.reason, message=r.message)
            del records[i]
    target_ids = {t.id for t in targets.values()} | {org.id}
    # Seat limits hold under concurrency: lock the seat-limited target organizations (sorted,
    # no deadlock) before counting seats. Organizations without a limit are not locked, so
    # provisioning into them (SCIM creates, sign-ins) runs concurrently. SQLite already
    # serializes writers (BEGIN IMMEDIATE).
    limited = sorted({t.id for t in targets.values() if t.seat_limit is not None}
                     | ({org.id} if org.seat_limit is not None else set()))
    if limited:
        session.execute(select(Organization.id).where(Organization.id.in_(limited))
                        .order_by(Organization.id).with_for_update())
    load_candidates(session, org, connection,
                    {i.external_id for i in records.values() if i.external_id},
                    {i.email for i in records.values() if i.email},
                    {i.username for i in records.values() if i.username},
                    {i.user_id for i in records.values() if i.user_id},
                    target_ids, policy.one_admin_org, c)
    load_group_pairs(session, org, c)
    seats = count_active_seats(session, {t.id: t for t in [*targets.values(), org]})
    for oid, n in (seats_taken or {}).items():
        if oid in seats:
            seats[oid] += n
    plans: list[Plan] = []
    for i, ident in records.items():
        plan = Plan(i, ident, targets[i])
        try:
            _decide(plan, org, policy, c, seats, source, actor, connection, groups_mode)
        except Rejected as r:
            results[i] = Result(i, Outcome.REJECTED, reason=r.reason, message=r.message)
            continue
        plans.append(plan)

    events = EventBatch(session, source=source.value, actor=actor.label)
    uid = _apply(session, org, plans, source, connection, events)
    events.flush()
    for p in plans:
        results[p.index] = Result(p.index, p.outcome, uid[p.index], p.target.id,
                                  changes=tuple(p.changes))
    return [results[i] for i in range(len(identities))]


def _create_missing_groups(session: Session, org: Organization, keys: set[str], c: Candidates,
                           source: Source, actor: Actor) -> None:
    missing = sorted({k for k in keys if k not in c.groups and k.lower() not in c.groups},
                     key=str.lower)
    done: set[str] = set()
    for name in missing:
        if name.lower() in done:
            continue
        done.add(name.lower())
        g = Group(organization_id=org.id, display_name=name, source=source.value)
        session.add(g)
        session.flush()
        c.groups[name.lower()] = g
        record(session, org.id, "group.created", source=source.value, actor=actor.label,
               target_type="group", target_id=g.id, display_name=name)


def _sub_organizations(session: Session, org: Organization,
                       wanted: set[Any]) -> dict[Any, Organization]:
    """Live organizations of ``org``'s subtree, by account and by id."""
    wanted.discard(None)
    if not wanted:
        return {}
    accounts = [w for w in wanted if isinstance(w, str)]
    ids = [w for w in wanted if isinstance(w, int)]
    rows = session.scalars(select(Organization).where(
        Organization.path.like(org.path + "%"), Organization.deleted_at.is_(None),
        Organization.account.in_(accounts) | Organization.id.in_(ids))).all()
    out: dict[Any, Organization] = {}
    for o in rows:
        out[o.account] = o
        out[o.id] = o
    return out


def _target(org: Organization, ident: Identity, c: Candidates,
            subs: dict[Any, Organization]) -> Organization:
    if ident.sub_organization:
        sub = subs.get(ident.sub_organization)
        if sub is None:
            raise Rejected(Reason.UNKNOWN_SUB_ORGANIZATION,
                           f"{ident.sub_organization!r} is not a sub-organization of {org.account!r}.")
        return sub
    for key in ident.groups or ():
        g = c.groups.get(key) or c.groups.get(key.lower())
        if g is not None and g.sub_organization_id and g.sub_organization_id in subs:
            return subs[g.sub_organization_id]
    return org


def _same_hierarchy(user: User, org: Organization, c: Candidates) -> bool:
    return user.home_organization_id is not None and \
        c.roots.get(user.home_organization_id) == org.root_id


def _match(plan: Plan, org: Organization, policy: Policy, c: Candidates,
           source: Source | None = None) -> User | None:
    """Linked identity first, then a trusted email, then username; never an untrusted email."""
    ident = plan.ident
    found: dict[int, str] = {}
    if ident.user_id is not None:
        if ident.user_id not in c.users:
            raise Rejected(Reason.UNKNOWN_USER, f"User {ident.user_id} does not exist.")
        found[ident.user_id] = "user"
    if ident.external_id and ident.external_id in c.by_link:
        found.setdefault(c.by_link[ident.external_id], "link")
    for kind, key, table, taken in (("email", ident.email, c.by_email, Reason.EMAIL_TAKEN),
                                    ("username", ident.username, c.by_username,
                                     Reason.USERNAME_TAKEN)):
        uid = table.get(key) if key else None
        if uid is None or uid in found:
            continue
        user = c.users[uid]
        trusted = (_same_hierarchy(user, org, c) or (plan.target.id, uid) in c.memberships
                   or (org.id, uid) in c.memberships)
        if kind == "email" and source in (Source.OIDC, Source.SAML):
            # A sign-in's email claim is only the IdP's word: an existing membership is no
            # proof the signer owns that account (Entra "nOAuth"). Verified domain or nothing.
            trusted = False
        if source in (Source.INVITE_CODE, Source.INVITATION):
            # A person joining by themselves proves an account by signing in (user_id), never
            # by typing its email or username at sign-up.
            trusted = False
        if kind == "email" and ident.email_verified and email_domain(key) in policy.verified_domains:
            trusted = True
        if not trusted:
            raise Rejected(taken, f"The {kind} {key} belongs to another account; that person "
                                  "must sign in and join themselves.")
        found[uid] = kind
    if len(found) > 1:
        raise Rejected(Reason.AMBIGUOUS_MATCH, "The record matches several accounts ("
                       + ", ".join(f"{how} -> user {uid}" for uid, how in found.items()) + ").")
    return c.users[next(iter(found))] if found else None


def _decide(plan: Plan, org: Organization, policy: Policy, c: Candidates, seats: dict[int, int],
            source: Source, actor: Actor, connection: str | None, groups_mode: str) -> None:
    ident = plan.ident
    user = _match(plan, org, policy, c, source)
    plan.user = user
    membership = c.memberships.get((plan.target.id, user.id)) if user else None
    plan.membership = membership
    if user is not None and (not user.active or user.deleted_at is not None):
        raise Rejected(Reason.USER_DEACTIVATED, "This account is deactivated.")
    if membership is None and ident.active is not False:
        _check_join_policy(plan, policy, source, user)
    groups = [g for key in ident.groups or () if (g := c.groups.get(key) or c.groups.get(key.lower()))]
    role = _decide_role(plan, membership, groups, policy, source, actor)
    if user is None:
        _plan_new_user(plan, org, policy, source, c)
    else:
        _plan_user_update(plan, org, policy, source, c, user)
    # Membership: join, role change, deactivate or reactivate.
    if membership is None:
        status = DEACTIVATED if ident.active is False else ACTIVE
        _take_seat(plan.target, seats, status)
        _check_admin_limit(plan, policy, c, role)
        plan.new_role = role
        plan.member_changes = {"status": status}
        plan.outcome = Outcome.CREATED if user is None else Outcome.JOINED
        plan.changes.append("membership")
    else:
        if membership.status in (DEACTIVATED, REMOVED) and ident.active is not False:
            if source in SELF_SERVICE:
                raise Rejected(Reason.MEMBER_DEACTIVATED,
                               "Your membership in this organization has been deactivated.")
            # A deprovisioned ("removed") member comes back only when an admin source adds
            # them again; a deactivated one when it says active=true.
            if source in ADMIN_SOURCES and (ident.active is True or membership.status == REMOVED):
                _take_seat(plan.target, seats, ACTIVE)
                plan.member_changes["status"] = ACTIVE
        elif membership.status == REMOVED and ident.active is False:
            pass  # already out
        elif membership.status == ACTIVE and ident.active is False:
            plan.member_changes["status"] = DEACTIVATED
            seats[plan.target.id] -= 1
        if role != membership.role:
            _check_admin_limit(plan, policy, c, role)
            plan.member_changes["role"] = role
        if plan.member_changes:
            plan.changes.extend(sorted(plan.member_changes))
    _plan_link(plan, org, connection, c)
    _plan_groups(plan, groups, c, source, groups_mode)
    if plan.outcome is Outcome.UNCHANGED and plan.changes:
        plan.outcome = Outcome.UPDATED


def _check_join_policy(plan: Plan, policy: Policy, source: Source, user: User | None) -> None:
    # A signed-in person joining (user_id, no email in the record) is judged by their account's.
    domain = email_domain(plan.ident.email or (user.email if user else None))
    closed = {"invite_only": (Source.OIDC, Source.SAML),
              "closed": (Source.OIDC, Source.SAML, Source.INVITE_CODE, Source.INVITATION)}
    if source in closed.get(policy.join_policy, ()):
        raise Rejected(Reason.SOURCE_NOT_ALLOWED,
                       "This organization adds members by invitation only."
                       if policy.join_policy == "invite_only" else
                       "This organization is not taking new members; ask an admin.")
    if policy.allowed_domains and (domain not in policy.allowed_domains):
        raise Rejected(Reason.DOMAIN_NOT_ALLOWED,
                       f"Only addresses at {', '.join(sorted(policy.allowed_domains))} may join.")
    if source in (Source.OIDC, Source.SAML) and not (
            plan.ident.email_verified and domain in policy.verified_domains):
        # Auto-join by SSO needs a verified email on one of the organization's verified domains.
        raise Rejected(Reason.DOMAIN_NOT_ALLOWED,
                       "Sign-in can only join people whose verified email is on one of the "
                       "organization's verified domains.")


def _decide_role(plan: Plan, membership: Membership | None, groups: list[Group], policy: Policy,
                 source: Source, actor: Actor) -> str:
    ident = plan.ident
    current = membership.role if membership else None
    if current == "owner":
        return "owner"  # owners change only through set_role / transfer_ownership
    if ident.role:
        role = ident.role
    else:
        mapped = [g.role for g in groups if g.role in RANKS]
        mapped += [policy.role_mapping[k] for k in ident.groups or () if k in policy.role_mapping]
        mapped = [r for r in mapped if r in RANKS]
        if mapped:
            role = max(mapped, key=RANKS.__getitem__)
        else:
            role = current or plan.target.default_role or "member"
    if role == "owner" and source is not Source.MANUAL:
        role = "admin"  # automated sources never mint owners
    if RANKS[role] > actor.rank and role != current:
        raise Rejected(Reason.ROLE_ESCALATION, f"You cannot grant the {role} role.")
    return role


def _take_seat(target: Organization, seats: dict[int, int], status: str) -> None:
    if status != ACTIVE:
        return
    if target.seat_limit is not None and seats[target.id] >= target.seat_limit:
        raise Rejected(Reason.SEATS_FULL, f"{target.name} has no free seats "
                                          f"({target.seat_limit} in use).")
    seats[target.id] += 1


def _check_admin_limit(plan: Plan, policy: Policy, c: Candidates, role: str) -> None:
    if policy.one_admin_org and role in ADMIN_ROLES and plan.user is not None \
            and plan.user.id in c.admin_elsewhere:
        raise Rejected(Reason.ADMIN_LIMIT, "This person already administers another organization.")


def _plan_new_user(plan: Plan, org: Organization, policy: Policy, source: Source,
                   c: Candidates) -> None:
    ident = plan.ident
    if policy.create_sources is not None and source.value not in policy.create_sources:
        raise Rejected(Reason.SOURCE_NOT_ALLOWED,
                       f"This organization does not let {source.value} create accounts.")
    if ident.email and ident.email in c.by_email:
        raise Rejected(Reason.EMAIL_TAKEN, f"The email {ident.email} belongs to another account.")
    if ident.username and ident.username in c.by_username:
        raise Rejected(Reason.USERNAME_TAKEN, f"The username {ident.username} is taken.")
    pw = ident.password_hash or (hash_password(ident.password) if ident.password else None)
    plan.new_user = {
        "email": ident.email, "username": ident.username,
        "email_verified": bool(ident.email_verified and ident.email
                               and email_domain(ident.email) in policy.verified_domains)
        or (source in (Source.INVITATION,) and bool(ident.email)),
        "given_name": ident.given_name or "", "family_name": ident.family_name or "",
        "display_name": ident.display_name or " ".join(
            x for x in (ident.given_name, ident.family_name) if x),
        "password_hash": pw, "must_change_password": bool(ident.must_change_password),
        "active": True, "home_organization_id": org.id, "profile": dict(ident.profile),
        "managed_by_organization_id": org.id if source in AUTHORITATIVE else None,
        "managed_by_source": source.value if source in AUTHORITATIVE else None,
        "security_stamp": 0, "version": 1,
    }
    # Reserve the keys so a later record of the batch cannot claim them too.
    if ident.email:
        c.by_email[ident.email] = -1 - plan.index
    if ident.username:
        c.by_username[ident.username] = -1 - plan.index


def _plan_user_update(plan: Plan, org: Organization, policy: Policy, source: Source,
                      c: Candidates, user: User) -> None:
    ident = plan.ident
    wanted: dict[str, Any] = {}
    for f in PROFILE_FIELDS:
        v = getattr(ident, f)
        if v is not None and v != getattr(user, f):
            wanted[f] = v
    if ident.email and ident.email != user.email:
        wanted["email"] = ident.email
    if ident.username and ident.username != user.username:
        wanted["username"] = ident.username
    if ident.profile and {**user.profile, **ident.profile} != user.profile:
        wanted["profile"] = {**user.profile, **ident.profile}
    if (ident.password or ident.password_hash) and source in ADMIN_SOURCES:
        wanted["password_hash"] = ident.password_hash or hash_password(ident.password)
        if ident.must_change_password is not None:
            wanted["must_change_password"] = ident.must_change_password
    if not wanted:
        return
    managed = user.managed_by_source in AUTHORITATIVE
    owner_source = managed and user.managed_by_organization_id == org.id \
        and user.managed_by_source == source.value
    if managed and not owner_source:
        if source in (Source.CSV, Source.MANUAL, Source.GENERATED):
            raise Rejected(Reason.MANAGED_ELSEWHERE,
                           f"This person is managed by {user.managed_by_source.upper()}; "
                           "change them there.")
        return  # sign-ins and other directories do not overwrite the authoritative source
    if not owner_source and not _same_hierarchy(user, org, c):
        return  # another organization's account: join it, never edit it
    for key in ("email", "username"):
        if key in wanted:
            table = c.by_email if key == "email" else c.by_username
            other = table.get(wanted[key])
            if other is not None and other != user.id:
                raise Rejected(Reason.EMAIL_TAKEN if key == "email" else Reason.USERNAME_TAKEN,
                               f"The {key} {wanted[key]} belongs to another account.")
            table[wanted[key]] = user.id
    if "email" in wanted:
        wanted["email_verified"] = bool(ident.email_verified and
                                        email_domain(ident.email) in policy.verified_domains)
    if source in AUTHORITATIVE and user.managed_by_source is None:
        wanted.update(managed_by_organization_id=org.id, managed_by_source=source.value)
    plan.user_changes = wanted
    plan.changes.extend(k for k in sorted(wanted) if k not in ("email_verified",
                                                                  "managed_by_organization_id"))


def _plan_link(plan: Plan, org: Organization, connection: str | None, c: Candidates) -> None:
    ident = plan.ident
    if not (connection and ident.external_id):
        return
    link = c.links.get(ident.external_id)
    plan.link = link
    if link is None:
        plan.link_changes = {"new": True}
        return
    if ident.source_username and ident.source_username != link.username:
        plan.link_changes["username"] = ident.source_username
    if ident.link_data and {**link.data, **ident.link_data} != link.data:
        plan.link_changes["data"] = {**link.data, **ident.link_data}
    if plan.link_changes:
        plan.changes.append("identity")


def _plan_groups(plan: Plan, groups: list[Group], c: Candidates, source: Source,
                 groups_mode: str) -> None:
    if plan.ident.groups is None:
        return
    uid = plan.user.id if plan.user else None
    plan.groups_add = [g for g in {g.id: g for g in groups}.values()
                       if uid is None or (g.id, uid) not in c.group_pairs]
    if groups_mode == "sync" and uid is not None:
        keep = {g.id for g in groups}
        plan.groups_remove = sorted(gid for gid, u in c.group_pairs
                                    if u == uid and gid not in keep
                                    and c.group_sources.get(gid) == source.value)
    if plan.groups_add or plan.groups_remove:
        plan.changes.append("groups")


def _apply(session: Session, org: Organization, plans: list[Plan], source: Source,
           connection: str | None, events: EventBatch) -> dict[int, int]:
    """Write every plan with bulk statements."""
    now = utcnow()
    new = [p for p in plans if p.new_user is not None]
    if new:
        _insert_users(session, new, now)
        for p in new:
            uid = p.new_user["id"]
            events.add(org.id, "user.created", "user", uid, email=p.new_user["email"],
                       username=p.new_user["username"],
                       **({"connection": connection, "external_id": p.ident.external_id}
                          if connection and p.ident.external_id else {}))
    updates = [p for p in plans if p.user_changes]
    if updates:
        session.execute(update(User), [
            {"id": p.user.id, **p.user_changes, "version": p.user.version + 1, "updated_at": now}
            for p in updates])
        for p in updates:
            events.add(org.id, "user.updated", "user", p.user.id,
                       fields=sorted(k for k in p.user_changes if k != "password_hash"))
    uid = {p.index: (p.user.id if p.user else p.new_user["id"]) for p in plans}
    joins = [p for p in plans if p.membership is None]
    if joins:
        session.execute(Membership.__table__.insert(), [
            {"organization_id": p.target.id, "user_id": uid[p.index], "role": p.new_role,
             "status": p.member_changes["status"], "source": source.value,
             "created_at": now, "updated_at": now} for p in joins])
        for p in joins:
            events.add(p.target.id, "member.joined", "user", uid[p.index], role=p.new_role,
                       status=p.member_changes["status"])
    changed = [p for p in plans if p.membership is not None and p.member_changes]
    if changed:
        session.execute(update(Membership), [
            {"id": p.membership.id, **p.member_changes, "updated_at": now} for p in changed])
        for p in changed:
            m = p.membership
            if "role" in p.member_changes:
                events.add(p.target.id, "member.role_changed", "user", m.user_id,
                           old_role=m.role, role=p.member_changes["role"])
            status = p.member_changes.get("status")
            if status:
                events.add(p.target.id, "member.deactivated" if status == DEACTIVATED
                           else "member.reactivated", "user", m.user_id)
            if status == DEACTIVATED:
                _end_access(session, [m.user_id], p.target.id)
    _apply_links(session, org, plans, uid, connection, now, events, source)
    adds = [{"group_id": g.id, "user_id": uid[p.index], "created_at": now}
            for p in plans for g in p.groups_add]
    if adds:
        session.execute(GroupMember.__table__.insert(), adds)
        for a in adds:
            events.add(org.id, "group.member_added", "group", a["group_id"], user_id=a["user_id"])
    removes = [(gid, uid[p.index]) for p in plans for gid in p.groups_remove]
    for gid, u in removes:
        session.execute(delete(GroupMember).where(GroupMember.group_id == gid,
                                                  GroupMember.user_id == u))
        events.add(org.id, "group.member_removed", "group", gid, user_id=u)
    # Bulk statements bypass the identity map: the rows they changed reload on next access
    # (only those: expiring everything would reload the organization on every call).
    for p in plans:
        for obj in (p.user, p.membership, p.link):
            if obj is not None:
                session.expire(obj)
    return uid


def _insert_users(session: Session, new: list[Plan], now: Any) -> None:
    """Bulk-insert new users and learn their ids. RETURNING rows come back in any order
    (ordered RETURNING degrades to one statement per row on SQLite), so rows are matched back
    by their unique email or username; the rare row with neither is inserted on its own."""
    keyed = [p for p in new if p.new_user["email"] or p.new_user["username"]]
    if keyed:
        rows = [{**p.new_user, "created_at": now, "updated_at": now} for p in keyed]
        by_email: dict[str, int] = {}
        by_username: dict[str, int] = {}
        for uid, email, username in session.execute(
                _USERS.insert().returning(_USERS.c.id, _USERS.c.email, _USERS.c.username), rows):
            if email:
                by_email[email] = uid
            if username:
                by_username[username] = uid
        for p in keyed:
            p.new_user["id"] = by_email.get(p.new_user["email"]) or \
                by_username[p.new_user["username"]]
    for p in new:
        if "id" not in p.new_user:
            p.new_user["id"] = session.execute(insert(User).values(
                **p.new_user, created_at=now, updated_at=now).returning(User.id)).scalar_one()


def _apply_links(session: Session, org: Organization, plans: list[Plan], uid: dict[int, int],
                 connection: str | None, now: Any, events: EventBatch, source: Source) -> None:
    new_links = [p for p in plans if p.link_changes.get("new")]
    if new_links:
        session.execute(LinkedIdentity.__table__.insert(), [
            {"connection": connection, "external_id": p.ident.external_id,
             "user_id": uid[p.index], "organization_id": org.id,
             "username": p.ident.source_username, "data": dict(p.ident.link_data),
             "created_at": now, "last_seen_at": now} for p in new_links])
        for p in new_links:
            if p.new_user is None:  # a new account's link is told by its user.created event
                events.add(org.id, "identity.linked", "user", uid[p.index],
                           connection=connection, external_id=p.ident.external_id)
    # last_seen_at is news only for sign-ins; a bulk source re-sending an unchanged record
    # should not cost a write per row.
    old = [p for p in plans if p.link is not None
           and (p.link_changes or source in (Source.OIDC, Source.SAML))]
    if old:
        session.execute(update(LinkedIdentity), [
            {"id": p.link.id, "last_seen_at": now, **p.link_changes} for p in old])


def _end_access(session: Session, user_ids: list[int], org_id: int) -> None:
    """A deactivated member loses the credentials they own in that organization."""
    from ..models import Credential
    session.execute(update(Credential).where(
        Credential.user_id.in_(user_ids), Credential.organization_id == org_id,
        Credential.revoked_at.is_(None)).values(revoked_at=utcnow()))
