"""Set-based account creation for bulk sources (the CSV import).

Most rows of a large import are people the platform has never seen: no linked identity, no user
with their email or username, nothing asked but an account, a membership and a linked identity.
For them decide.py's per-record judgement reduces to a few organization-wide checks, so they are
created here with a handful of ``INSERT ... SELECT`` statements per batch instead of per-row
Python (issue 6 benchmark). The rows and audit events written are exactly those ``provision``
writes for the same records (tests compare both paths); every other record, and every batch
whose policy needs a per-record answer (seats running out), goes through ``provision``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (JSON, Select, String, bindparam, case, cast, exists, false, func,
                        literal, literal_column, null, or_, select, text, true)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import UTCDateTime, utcnow
from ..events import enqueue_webhooks, has_webhooks
from ..identity import AUTHORITATIVE, Actor, Source
from ..models import AuditEvent, LinkedIdentity, Membership, Organization, User
from ..roles import RANKS
from .context import Policy, count_active_seats
from .normalize import USERNAME, clean, normalize_email, normalize_username, valid_email

SOURCES = frozenset({Source.CSV})
U, M, L, A = (User.__table__, Membership.__table__, LinkedIdentity.__table__,
              AuditEvent.__table__)
Prepared = tuple[str, "str | None", str, str, str, "str | None"]


def prepare(email: str | None, username: str | None, given: str | None, family: str | None,
            display: str | None, role: str | None, *, normalized: bool = False
            ) -> Prepared | None:
    """The normalized (email, username, given, family, display, role) the set-based create
    inserts for a record with these values, or None when the record needs ``provision``'s
    per-record judgement (no email, an invalid value, the owner role). Same rules as
    normalize.py and decide.py's new-account plan; kept lean: it runs once per staged row
    (``normalized``: the email and username have been through normalize.py already)."""
    if not normalized:
        email, username = normalize_email(email), normalize_username(username)
    if not email or len(email) > 320 or not valid_email(email):
        return None
    if username and not USERNAME.match(username):
        return None
    if role:
        role = role.strip().lower()
        if role not in RANKS or role == "owner":
            return None
    given, family = clean(given) or "", clean(family) or ""
    display = clean(display) or " ".join(x for x in (given, family) if x)
    if len(given) > 200 or len(family) > 200 or len(display) > 300:
        return None
    return email, username or None, given, family, display, role or None


@dataclass(frozen=True)
class Created:
    """What a set-based create did."""

    count: int = 0
    keys: tuple[Any, ...] = ()  # a dry run: the records that would be created


def reserve_ids(session: Session, n: int) -> list[int]:
    """``n`` ids for accounts a set-based create will make, so the caller can record each
    record's account with the record itself (one write per row, not a write and an update).
    Ids a create does not use are skipped, never reused (as with any rolled-back insert)."""
    if n <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence('users', 'id')) "
            "FROM generate_series(1, :n)"), {"n": n}))
    # SQLite: the caller's transaction holds the write lock (BEGIN IMMEDIATE) until the
    # accounts are written, so nobody else can take these.
    top = session.scalar(select(func.max(U.c.id))) or 0
    return list(range(top + 1, top + n + 1))


class Plan:
    """The set-based create's statements for one query of staged rows, built the first time a
    batch needs them and reused by the next batches. Building and keying SQLAlchemy statements
    this size every batch measured about a tenth of the create's time, so a batch only binds
    its parameters (``rows``' own bind parameters, and ``now``). Statements are keyed by everything they inline (organization,
    actor, policy), so a policy edited during a long import is seen by the next batch."""

    def __init__(self, rows: Select) -> None:
        self.rows = rows.subquery("r")
        self._built: dict[tuple[Any, ...], dict[str, Any]] = {}

    def statements(self, session: Session, key: tuple[Any, ...], build) -> dict[str, Any]:
        if key not in self._built:
            if len(self._built) > 8:  # policy churn during one job: keep the latest only
                self._built.clear()
            self._built[key] = build(session, self.rows)
        return self._built[key]


def create(session: Session, org: Organization, rows: "Select | Plan", *, source: Source,
           actor: Actor, connection: str, dry_run: bool = False, batch_records: int = 0,
           seats_taken: dict[int, int] | None = None,
           params: dict[str, Any] | None = None, records: int | None = None) -> Created:
    """Create the accounts of ``rows`` that match nobody and pass the organization's policy.

    ``rows`` (a query, or a ``Plan`` of one to reuse batch after batch with ``params``)
    selects prepared records (``prepare``), emails unique among them, as columns
    ``key, user_id, email, username, given_name, family_name, display_name, role,
    external_id``; ``user_id`` is an id from ``reserve_ids`` (unused in a dry run). A record
    was created when a user with its ``user_id`` exists afterwards; the others are left to
    ``provision``. ``records``, when the caller knows it, is how many records ``rows``
    selects: when all of them are created, what follows the users insert reads them without
    probing users for each. ``batch_records`` counts every record of the
    caller's batch (these and the ones ``provision`` gets): under a seat limit the set-based
    create runs only when all of them could take a seat, so it never decides who gets the
    last one."""
    if source not in SOURCES:
        raise ValueError(f"set-based create does not judge {source.value} records")
    policy = Policy.load(session, org, False, with_domains=False)
    if org.deleted_at is not None or (policy.create_sources is not None
                                      and source.value not in policy.create_sources):
        return Created()
    plan = rows if isinstance(rows, Plan) else Plan(rows)
    allowed = tuple(sorted(role for role, rank in RANKS.items()
                           if role != "owner" and rank <= actor.rank))
    shape = (session.get_bind().dialect.name, org.id, org.default_role or "member", allowed,
             tuple(sorted(policy.allowed_domains or ())), source, actor.label, connection,
             has_webhooks(session, org.id))
    q = plan.statements(session, shape, lambda s, r: _build(s, r, *shape[1:]))
    params = {**(params or {}), "now": utcnow()}
    if org.seat_limit is not None or dry_run:
        if org.seat_limit is not None:
            session.execute(select(Organization.id).where(Organization.id == org.id)
                            .with_for_update())
        keys = tuple(session.scalars(q["keys"], params))
        if not keys:
            return Created()
        if org.seat_limit is not None:
            used = count_active_seats(session, {org.id: org})[org.id] + \
                (seats_taken or {}).get(org.id, 0)
            if used + max(len(keys), batch_records) > org.seat_limit:
                return Created()
        if dry_run:
            return Created(len(keys), keys=keys)
    try:
        with session.begin_nested():
            return _write(session, q, params, records)
    except IntegrityError:
        return Created()  # a concurrent writer took a key first: provision judges these


def _build(session: Session, r: Any, org_id: int, default: str, allowed: tuple[str, ...],
           domains: tuple[str, ...], source: Source, actor_label: str, connection: str,
           hooks: bool) -> dict[str, Any]:
    """The create's statements for staged rows ``r`` under one organization's policy."""
    now = bindparam("now", type_=UTCDateTime())
    managed = source in AUTHORITATIVE
    # What makes a record new: no account has its email or username, no identity its id.
    new = [~exists().where(U.c.email == r.c.email),
           or_(r.c.username.is_(None), ~exists().where(U.c.username == r.c.username)),
           or_(r.c.external_id.is_(None), ~exists().where(
               L.c.connection == connection, L.c.external_id == r.c.external_id))]
    # What the policy asks of a new account: a role the actor may grant, an allowed domain.
    fits = [or_(r.c.role.in_(allowed), r.c.role.is_(None) if default in allowed else false())]
    if domains:
        fits.append(or_(*[r.c.email.endswith("@" + d, autoescape=True) for d in domains]))
    user_cols = {
        "id": r.c.user_id, "email": r.c.email, "email_verified": false(), "username": r.c.username,
        "given_name": r.c.given_name, "family_name": r.c.family_name,
        "display_name": r.c.display_name, "password_hash": null(),
        "must_change_password": false(), "active": true(),
        "home_organization_id": literal(org_id), "profile": literal({}, JSON()),
        "managed_by_organization_id": literal(org_id) if managed else null(),
        "managed_by_source": literal(source.value) if managed else null(),
        "security_stamp": literal(0), "version": literal(1), "created_at": now,
        "updated_at": now}
    q: dict[str, Any] = {"keys": select(r.c.key).where(*new, *fits)}
    # No ORDER BY: each account's id is given, so the order rows go in changes nothing.
    q["users"] = U.insert().from_select(list(user_cols),
                                        select(*user_cols.values()).where(*new, *fits))
    if session.get_bind().dialect.name == "postgresql":
        # psycopg reports -1 as the rowcount of INSERT ... SELECT through SQLAlchemy; SQLite
        # counts, and there reading back 5,000 ids a batch as rows costs more than the count.
        q["users"] = q["users"].returning(U.c.id)
    obj = _json_object(session)
    # After the users insert, the records whose account now exists: when every record got
    # one, all of ``r`` (read as is); otherwise a primary-key probe of users per record.
    q["all"] = _after(r, r.c.user_id, r, obj, org_id, default, source, actor_label,
                      connection, now, hooks)
    q["some"] = _after(r.join(U, U.c.id == r.c.user_id), U.c.id, r, obj, org_id, default,
                       source, actor_label, connection, now, hooks)
    q["hooks"] = hooks
    return q


def _after(rows: Any, user_id: Any, r: Any, obj: Any, org_id: int, default: str,
           source: Source, actor_label: str, connection: str, now: Any,
           hooks: bool) -> list[Any]:
    """The memberships, linked identities and audit events of the accounts just created."""
    role = func.coalesce(r.c.role, default)
    member_cols = {"organization_id": literal(org_id), "user_id": user_id, "role": role,
                   "status": literal("active"), "source": literal(source.value),
                   "created_at": now, "updated_at": now}
    out = [M.insert().from_select(list(member_cols),
                                  select(*member_cols.values()).select_from(rows))]
    link_cols = {"connection": literal(connection), "external_id": r.c.external_id,
                 "user_id": user_id, "organization_id": literal(org_id), "username": null(),
                 "data": literal({}, JSON()), "created_at": now, "last_seen_at": now}
    out.append(L.insert().from_select(
        list(link_cols), select(*link_cols.values()).select_from(rows)
        .where(r.c.external_id.is_not(None))))
    created = case((r.c.external_id.is_(None),
                    obj("email", r.c.email, "username", r.c.username)),
                   else_=obj("email", r.c.email, "username", r.c.username,
                             "connection", cast(literal(connection), String),
                             "external_id", r.c.external_id))
    # The order provision writes them in: every user.created of the batch, then member.joined.
    for action, data in (("user.created", created),
                         ("member.joined", obj("role", role,
                                               "status", cast(literal("active"), String)))):
        cols = {"organization_id": literal(org_id), "actor": literal(actor_label),
                "action": literal(action), "source": literal(source.value),
                "target_type": literal("user"), "target_id": cast(user_id, String),
                "data": data, "created_at": now}
        stmt = A.insert().from_select(list(cols), select(*cols.values()).select_from(rows)
                                      .order_by(r.c.key))
        if hooks:  # the rows written, for the webhook outbox
            stmt = stmt.returning(A.c.organization_id, A.c.actor, A.c.action, A.c.source,
                                  A.c.target_type, A.c.target_id, A.c.data, A.c.created_at)
        out.append(stmt)
    return out


def _write(session: Session, q: dict[str, Any], params: dict[str, Any],
           records: int | None) -> Created:
    result = session.execute(q["users"], params)
    made = len(result.all()) if result.returns_rows else result.rowcount
    if not made:
        return Created()
    audit: list[dict[str, Any]] = []
    for stmt in q["all" if made == records else "some"]:
        result = session.execute(stmt, params)
        if stmt.table is A and q["hooks"]:
            audit += [dict(row._mapping) for row in result]
    if audit:
        enqueue_webhooks(session, audit)
    return Created(made)


def _json_object(session: Session):
    """A JSON object built by the database: json_object on SQLite, json_build_object on
    PostgreSQL; typed JSON so a RETURNING of it reads back as a dict."""
    name = "json_build_object" if session.get_bind().dialect.name == "postgresql" \
        else "json_object"

    def obj(*pairs: Any) -> Any:
        # Keys are this module's constants, rendered inline; typed values, so PostgreSQL
        # can resolve json_build_object's "any" arguments.
        args = [literal_column("'%s'" % v) if i % 2 == 0 else v for i, v in enumerate(pairs)]
        return getattr(func, name)(*args, type_=JSON())
    return obj
