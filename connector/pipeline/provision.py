"""Normalize -> match -> policy -> apply -> audit, for a batch of identities of one organization.

This module runs the batch; decide.py judges each record, apply.py writes the outcome."""
from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound
from ..events import EventBatch, record
from ..identity import Actor, Identity, Outcome, Reason, Result, Source
from ..models import Group, Organization
from .context import (Candidates, Policy, count_active_seats, load_candidates, load_group_pairs,
                      load_groups)
from .normalize import normalize
from .apply import apply
from .decide import Plan, Rejected, decide


def provision(session: Session, org: Organization, identities: list[Identity], *,
              source: Source, actor: Actor, connection: str | None = None,
              dry_run: bool = False, groups_mode: str = "add",
              create_groups: bool = False,
              seats_taken: dict[int, int] | None = None, isolated: bool = True) -> list[Result]:
    """Provision a batch of identities into ``org``; one result per record, in order.

    Runs inside the caller's transaction (never commits). ``dry_run`` computes exactly the same
    results and writes nothing. ``groups_mode="sync"`` makes the user's memberships in this
    source's groups exactly ``identity.groups``. ``seats_taken`` (org id -> seats) counts seats
    that earlier batches of the same dry run would have taken, so a batched dry run predicts
    seat-limit rejections exactly as the commit will meet them.

    The batch runs in a savepoint, so that a failure leaves the caller's transaction as it was
    and a unique-constraint race is retried. ``isolated=False`` is for a caller that discards
    its transaction (or its own savepoint) when this raises: on SQLite, where no other writer
    can race us (BEGIN IMMEDIATE), the savepoint is then skipped (a SCIM create, issue 3)."""
    if org.deleted_at is not None:
        raise NotFound(f"Organization {org.account!r} not found.")
    one_admin = bool(current_app.config.get("ONE_ADMIN_ORG_PER_USER")) if has_app_context() else False
    if not (isolated or dry_run) and session.get_bind().dialect.name == "sqlite":
        return _provision(session, org, identities, Source(source), actor, connection,
                          groups_mode, create_groups, one_admin, seats_taken)
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
            decide(plan, org, policy, c, seats, source, actor, connection, groups_mode)
        except Rejected as r:
            results[i] = Result(i, Outcome.REJECTED, reason=r.reason, message=r.message)
            continue
        plans.append(plan)

    events = EventBatch(session, source=source.value, actor=actor.label)
    uid = apply(session, org, plans, source, connection, events)
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
