"""The CSV import job: read the file once to check it, then stage and provision its rows batch
by batch, each batch one transaction that writes the staged rows, their outcomes and the job's
progress, so a killed worker resumes from the last committed batch. Brand-new accounts take the
pipeline's set-based create (pipeline/bulk.py); every other row goes through provision."""
from __future__ import annotations

import contextlib
import os
from collections import Counter
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.orm import Session

from .. import db, pipeline
from ..identity import Actor, Identity, Outcome, Reason, Result, Source
from ..jobs import finish, progress
from ..models import Job, LinkedIdentity, Organization, User
from . import stage
from .models import ImportRow, cells
from .reader import Table, open_table
from .stage import FALSE, TRUE

T = ImportRow.__table__
PASSWORD_BATCH = 1000
CREATED = Outcome.CREATED.value
# The column each pipeline reason is about, for the error list and the report.
REASON_FIELDS = {
    Reason.INVALID_EMAIL: "email", Reason.EMAIL_TAKEN: "email", Reason.DOMAIN_NOT_ALLOWED: "email",
    Reason.INVALID_USERNAME: "username", Reason.USERNAME_TAKEN: "username",
    Reason.UNKNOWN_ROLE: "role", Reason.ROLE_ESCALATION: "role", Reason.ADMIN_LIMIT: "role",
    Reason.UNKNOWN_SUB_ORGANIZATION: "sub_organization", Reason.MISSING_IDENTIFIER: "email",
}


def job_actor(job: Job) -> Actor:
    p = job.params
    return Actor(p.get("actor", job.created_by), rank=int(p.get("actor_rank", 1000)),
                 user_id=p.get("actor_user_id"))


def run(job_id: int, on_progress) -> None:
    """Run (or resume) one import job to its end."""
    with db.transaction() as s:
        job = s.get(Job, job_id)
        params, started = dict(job.params), "cursor" in (job.result or {})
    table = open_table(params["path"], params["filename"])
    if not started:
        total = stage.count_rows(table, int(current_app.config.get("IMPORT_MAX_ROWS", 200_000)))
        with db.transaction() as s:
            progress(s, s.get(Job, job_id), 0, total, cursor=0, counts={},
                     unknown_columns=table.unknown)
    process(job_id, table, on_progress)
    if not params.get("dry_run"):
        # The upload served its purpose; the outcomes live in import_rows.
        with contextlib.suppress(OSError):
            os.unlink(params["path"])


def identity(data: dict[str, str]) -> Identity:
    """A staged row as the pipeline's record; absent cells leave the user's value alone."""
    active = data.get("active", "").strip().lower()
    groups = data.get("groups")
    return Identity(
        external_id=data.get("external_id"), email=data.get("email"),
        username=data.get("username"), given_name=data.get("first_name"),
        family_name=data.get("last_name"), display_name=data.get("display_name"),
        role=data["role"].strip().lower() if data.get("role") else None,
        groups=tuple(g for g in groups.split("|") if g.strip()) if groups else None,
        sub_organization=data.get("sub_organization"),
        active=True if active in TRUE else False if active in FALSE else None)


def process(job_id: int, table: Table, on_progress) -> None:
    """Stage and provision the file's rows in batches, each batch one transaction with its
    outcomes and the job's progress; resume after the last committed batch."""
    size = int(current_app.config.get("IMPORT_BATCH_SIZE", 10000))
    with db.transaction() as s:
        job = s.get(Job, job_id)
        after, wants = job.result["cursor"], _wants_passwords(job.params)
        # Rows past the cursor belong to a batch that never committed (none, normally).
        s.execute(delete(T).where(T.c.job_id == job_id, T.c.line > after))
    hasher = None
    if wants:
        from ..accounts.passwords import Hasher
        hasher = Hasher()
        # Hashing is ~10 ms a row per core: keep a batch (and the heartbeat gap) well under
        # JOB_STALE_SECONDS, or another worker would take the job for dead.
        size = min(size, PASSWORD_BATCH)
    # A commit stages set-based candidates as created, with their reserved account id: the
    # set-based create then writes their accounts, and only the rows it did not take are
    # written again (a dry run and generated passwords mark rows after deciding).
    presumed = not (job.params.get("dry_run") or job.params.get("passwords") == "generate")
    q = Queries(job_id, presumed)
    sqlite = db.engine().dialect.name == "sqlite"
    try:
        for batches, chunk in enumerate(stage.chunks(table, job_id, after, size,
                                                     job.params["path"] + ".keys",
                                                     sqlite=sqlite, presumed=presumed)):
            with db.transaction() as s:
                job = s.get(Job, job_id)
                state = dict(job.result)
                first, last = chunk[0][1], chunk[-1][1]
                if presumed:
                    rows = stage.staged_as_created(chunk)
                    stage.presume(rows, pipeline.bulk.reserve_ids(s, len(rows)))
                stage.insert(s, chunk)
                if batches in (0, 1, 4):
                    _refresh_statistics(s)
                counts = _run_batch(s, job, q, first, last, state, hasher, presumed)
                progress(s, job, job.progress_done + len(chunk), cursor=last,
                         counts=counts, seats_taken=state.get("seats_taken", {}))
                done, total = job.progress_done, job.progress_total
            on_progress(done, total)
    finally:
        if hasher is not None:
            hasher.close()
    finish(job_id, "done")


def _refresh_statistics(s: Session) -> None:
    """PostgreSQL plans a job's statements from table statistics, and autovacuum analyzes too
    late for a job that grows its tables from empty: planned on "empty" tables the staging and
    matching joins become nested scans, quadratic in the batch (measured: a 5,000-row batch
    took 10 s instead of 0.5 s). Once a table has statistics the planner scales them by its
    current size, so the first batches (the second sees the first one's accounts) are enough."""
    if s.get_bind().dialect.name != "postgresql":
        return
    s.execute(text("ANALYZE import_rows, users, memberships, linked_identities"))


def _wants_passwords(params: dict[str, Any]) -> bool:
    return not params.get("dry_run") and (params.get("passwords") == "generate"
                                          or bool(params.get("has_password_column")))


class Queries:
    """One job's per-batch statements, built once: a batch binds its lines (``first``,
    ``last``), with no statement to build and key again (see pipeline.bulk.Plan)."""

    def __init__(self, job_id: int, presumed: bool) -> None:
        lines = (T.c.job_id == job_id, T.c.line.between(bindparam("first"), bindparam("last")))
        candidates = (*lines, T.c.bulk.is_(True),
                      T.c.status == CREATED if presumed else T.c.status.is_(None))
        undecided = T.c.status.is_(None)
        if presumed:
            undecided = undecided | ((T.c.status == CREATED) & T.c.bulk.is_(True))
        # Undecided rows; those the set-based create may take; those staged as its candidates.
        self.pending = select(func.count(), func.count().filter(T.c.bulk.is_(True)),
                              func.count().filter(and_(*candidates[2:]))).where(*lines, undecided)
        self.bulk = pipeline.bulk.Plan(select(
            T.c.line.label("key"), T.c.user_id, T.c.email_key.label("email"),
            T.c.username_key.label("username"), T.c.given_name, T.c.family_name,
            T.c.display_name, T.c.role_key.label("role"),
            T.c.external_key.label("external_id")).where(*candidates))
        # Presumed rows the set-based create did not take go back to undecided.
        self.not_taken = update(T).where(*candidates, ~exists().where(User.id == T.c.user_id)) \
            .values(status=None, message="", user_id=None)
        self.todo = select(T).where(*lines, T.c.status.is_(None)).order_by(T.c.line)
        self.counts = select(T.c.status, func.count()).where(*lines).group_by(T.c.status)


def _run_batch(s: Session, job: Job, q: Queries, first: int, last: int, state: dict[str, Any],
               hasher: Any, presumed: bool) -> dict[str, int]:
    """Provision the staged lines first..last; return the job's counts so far."""
    org = s.get(Organization, job.organization_id)
    dry = bool(job.params.get("dry_run"))
    # Seats the earlier batches of a dry run would have taken (they were rolled back).
    taken = {int(k): v for k, v in state.get("seats_taken", {}).items()}
    lines = {"first": first, "last": last}
    pending, bulky, candidates = s.execute(q.pending, lines).one()
    if bulky and job.params.get("passwords") != "generate":
        _bulk_create(s, job, org, q, lines, pending, candidates, taken, dry, presumed)
    todo = s.execute(q.todo, lines).all()
    if todo:
        _provision(s, job, org, todo, taken, dry, hasher)
    state["seats_taken"] = {str(k): v for k, v in taken.items()}
    counts = Counter(state.get("counts", {}))
    counts.update(dict(s.execute(q.counts, lines).all()))
    return {k: v for k, v in counts.items() if v}


def _bulk_create(s: Session, job: Job, org: Organization, q: Queries, lines: dict[str, int],
                 pending: int, candidates: int, taken: dict[int, int], dry: bool,
                 presumed: bool) -> None:
    """The batch's brand-new accounts through the pipeline's set-based create. Presumed rows
    it did not create go back to undecided (for provision); a dry run marks the rows it
    would create."""
    created = pipeline.bulk.create(s, org, q.bulk, source=Source.CSV, actor=job_actor(job),
                                   connection=f"csv:{org.id}", dry_run=dry,
                                   batch_records=pending, seats_taken=taken if dry else None,
                                   params=lines, records=candidates)
    if presumed and created.count < candidates:
        s.execute(q.not_taken, lines)
    elif dry and created.count:
        s.execute(update(T).where(T.c.job_id == job.id, T.c.line.in_(created.keys)).values(
            status=CREATED, reason=None, field=None, message=stage.CREATED_MESSAGE))
        taken[org.id] = taken.get(org.id, 0) + created.count


def _provision(s: Session, job: Job, org: Organization, todo: list[Any], taken: dict[int, int],
               dry: bool, hasher: Any) -> None:
    """The batch's other rows, record by record through pipeline.provision."""
    params = job.params
    idents = [identity(cells(r)) for r in todo]
    secrets: dict[int, str] = {}
    if hasher is not None:
        idents, secrets = _with_initial_passwords(s, org, todo, idents, params, hasher)
    results = pipeline.provision(s, org, idents, source=Source.CSV, actor=job_actor(job),
                                 connection=f"csv:{org.id}", create_groups=True, dry_run=dry,
                                 seats_taken=taken if dry else None)
    updates = []
    for r, ident, res in zip(todo, idents, results):
        secret = secrets.get(r.line) if res.outcome is Outcome.CREATED else None
        updates.append({"ln": r.line, "status": res.outcome.value,
                        "reason": res.reason.value if res.reason else None,
                        "field": REASON_FIELDS.get(res.reason) if res.reason else None,
                        "message": res.message or ", ".join(res.changes),
                        "user_id": res.user_id, "secret": secret})
        if dry:
            _count_seat(taken, ident, res)
    s.execute(update(T).where(T.c.job_id == job.id, T.c.line == bindparam("ln")).values(
        status=bindparam("status"), reason=bindparam("reason"), field=bindparam("field"),
        message=bindparam("message"), user_id=bindparam("user_id"),
        secret=bindparam("secret")), updates)


def _count_seat(taken: dict[int, int], ident: Identity, res: Result) -> None:
    if res.outcome in (Outcome.CREATED, Outcome.JOINED) and ident.active is not False:
        taken[res.organization_id] = taken.get(res.organization_id, 0) + 1
    elif res.outcome is Outcome.UPDATED and "status" in res.changes:
        taken[res.organization_id] = taken.get(res.organization_id, 0) + \
            (1 if ident.active else -1)


def _with_initial_passwords(s: Session, org: Organization, todo: list[Any],
                            idents: list[Identity], params: dict[str, Any],
                            hasher: Any) -> tuple[list[Identity], dict[int, str]]:
    """Passwords go only to accounts this batch creates: a re-upload never resets anyone's
    password (that is the admin's explicit reset). New = no user has the row's email or
    username (deleted users keep usernames) and no identity of this import is linked."""
    from dataclasses import replace

    from ..accounts.passwords import new_passphrase, new_password, seal
    emails = {r.email_key for r in todo if r.email_key}
    names = {r.username_key for r in todo if r.username_key}
    exts = {r.external_key for r in todo if r.external_key}
    taken_e = set(s.scalars(select(User.email).where(User.email.in_(emails),
                                                     User.deleted_at.is_(None)))) if emails else set()
    taken_u = set(s.scalars(select(User.username).where(User.username.in_(names)))) if names else set()
    taken_x = set(s.scalars(select(LinkedIdentity.external_id).where(
        LinkedIdentity.connection == f"csv:{org.id}",
        LinkedIdentity.external_id.in_(exts)))) if exts else set()
    plain: dict[int, str] = {}
    generated: set[int] = set()
    for i, r in enumerate(todo):
        if r.email_key in taken_e or r.username_key in taken_u or r.external_key in taken_x:
            continue
        if password := cells(r).get("password"):
            plain[i] = password
        elif params.get("passwords") == "generate":
            plain[i] = new_passphrase() if params.get("passphrases") else new_password()
            generated.add(i)
    if not plain:
        return idents, {}
    order = sorted(plain)
    hashes = dict(zip(order, hasher.hash_many([plain[i] for i in order])))
    must = bool(params.get("must_change", True))
    out = [replace(ident, password_hash=hashes[i], must_change_password=must) if i in hashes
           else ident for i, ident in enumerate(idents)]
    return out, {todo[i].line: seal(plain[i]) for i in generated}
