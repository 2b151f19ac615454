"""The CSV import job: stage the file's rows in the database (duplicates found there), then
provision them batch by batch, each batch one transaction that also records its rows' outcomes
and the job's progress, so a killed worker resumes from the last committed batch."""
from __future__ import annotations

import contextlib
import os
from collections import Counter
from typing import Any

from flask import current_app
from sqlalchemy import String, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from .. import db, pipeline
from ..errors import LimitReached
from ..identity import Actor, Identity, Outcome, Reason, Result, Source
from ..jobs import finish, progress
from ..models import Job, LinkedIdentity, Organization, User
from ..pipeline.normalize import normalize_email, normalize_username
from .models import ImportRow
from .reader import open_table

T = ImportRow.__table__
STAGE_CHUNK = 1000
ANALYZE_EVERY = 10  # batches between statistics refreshes on PostgreSQL
TRUE, FALSE = {"true", "yes", "y", "1", "active", "on"}, {"false", "no", "n", "0", "inactive", "off"}
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
        staged = (s.get(Job, job_id).result or {}).get("phase") == "staged"
    if not staged:
        stage(job_id)
    process(job_id, on_progress)
    with db.transaction() as s:
        params = s.get(Job, job_id).params
    if not params.get("dry_run"):
        # The upload served its purpose; the outcomes live in import_rows.
        with contextlib.suppress(OSError):
            os.unlink(params["path"])


def stage(job_id: int) -> int:
    """Stream the file into import_rows, then mark duplicates inside the file, in SQL."""
    with db.transaction() as s:
        job = s.get(Job, job_id)
        params = dict(job.params)
        s.execute(delete(ImportRow).where(ImportRow.job_id == job_id))  # a restaged job
    table = open_table(params["path"], params["filename"])
    limit = int(current_app.config.get("IMPORT_MAX_ROWS", 200_000))
    buf: list[dict[str, Any]] = []
    n = 0
    for line, values, _cells in table.rows():
        n += 1
        if n > limit:
            with db.transaction() as s:
                s.execute(delete(ImportRow).where(ImportRow.job_id == job_id))
            raise LimitReached(f"The file has more than {limit:,} rows, the limit; split it into "
                               "several files.", code="too_many_rows")
        buf.append(_staged(job_id, line, values))
        if len(buf) >= STAGE_CHUNK:
            _insert(buf)
            buf = []
    if buf:
        _insert(buf)
    with db.transaction() as s:
        for key, name in (("email_key", "email"), ("username_key", "username"),
                          ("external_key", "external_id")):
            _mark_duplicates(s, job_id, key, name)
        progress(s, s.get(Job, job_id), 0, n, phase="staged", cursor=0,
                 counts={}, unknown_columns=table.unknown)
    return n


def _staged(job_id: int, line: int, values: dict[str, str]) -> dict[str, Any]:
    row = {"job_id": job_id, "line": line, "data": values, "status": None, "reason": None,
           "field": None, "message": "", "user_id": None, "secret": None,
           "email_key": normalize_email(values.get("email")),
           "username_key": normalize_username(values.get("username")),
           "external_key": (values.get("external_id") or "").strip() or None}
    active = values.get("active", "").strip().lower()
    if active and active not in TRUE | FALSE:
        row.update(status=Outcome.REJECTED.value, reason="invalid_active", field="active",
                   message=f"active is {values['active']!r}; use true or false.")
    for key, size in (("email_key", 320), ("username_key", 150), ("external_key", 300)):
        if row[key] and len(row[key]) > size:
            row.update(status=Outcome.REJECTED.value, reason="too_long", field=key[:-4],
                       message=f"The {key[:-4]} is longer than {size} characters.")
            row[key] = None
    return row


def _insert(rows: list[dict[str, Any]]) -> None:
    with db.transaction() as s:
        s.execute(insert(ImportRow), rows)


def _mark_duplicates(s: Session, job_id: int, key: str, name: str) -> None:
    """A row repeating an earlier row's email/username/external id is rejected: set-based SQL on
    the (job_id, key) index, not a Python set of a million keys. The GROUP BY finds the repeated
    keys in one pass; only rows of those groups evaluate the correlated MIN(line)."""
    r2, r3 = T.alias("r2"), T.alias("r3")
    first = select(func.min(r2.c.line)).where(r2.c.job_id == job_id,
                                              r2.c[key] == T.c[key]).scalar_subquery()
    repeated = select(r3.c[key]).where(r3.c.job_id == job_id, r3.c[key].is_not(None)) \
        .group_by(r3.c[key]).having(func.count() > 1)
    s.execute(update(T).where(T.c.job_id == job_id, T.c.status.is_(None),
                              T.c[key].in_(repeated), first < T.c.line)
              .values(status=Outcome.REJECTED.value, reason="duplicate_in_file", field=name,
                      message=literal(f"Same {name} as line ") + cast(first, String) + "."))


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


def process(job_id: int, on_progress) -> None:
    """Provision the staged rows in batches; resume after the last committed batch."""
    size = int(current_app.config.get("IMPORT_BATCH_SIZE", 1000))
    hasher = None
    batches = 0
    try:
        while True:
            with db.transaction() as s:
                job = s.get(Job, job_id)
                state = dict(job.result)
                rows = s.execute(select(T).where(T.c.job_id == job_id, T.c.line > state["cursor"])
                                 .order_by(T.c.line).limit(size)).all()
                if not rows:
                    break
                if hasher is None and _wants_passwords(job.params):
                    from ..accounts.passwords import Hasher
                    hasher = Hasher()
                counts = _run_batch(s, job, rows, state, hasher)
                progress(s, job, job.progress_done + len(rows), cursor=rows[-1].line,
                         counts=counts, seats_taken=state.get("seats_taken", {}))
                done, total = job.progress_done, job.progress_total
            batches += 1
            if batches % ANALYZE_EVERY == 1:
                _refresh_statistics()
            on_progress(done, total)
    finally:
        if hasher is not None:
            hasher.close()
    finish(job_id, "done")


def _refresh_statistics() -> None:
    """PostgreSQL plans the pipeline's ``connection = ? AND external_id IN (...)`` lookup with
    the (connection, username) index while the tables have no statistics, filtering every row
    of the connection per batch: the import turns quadratic (measured: 100k rows 6x slower).
    Autovacuum analyzes too late for a job that grows a table from empty, so analyze here."""
    if db.engine().dialect.name != "postgresql":
        return
    with db.transaction() as s:
        s.execute(text("ANALYZE users, memberships, linked_identities, group_members"))


def _wants_passwords(params: dict[str, Any]) -> bool:
    return not params.get("dry_run") and (params.get("passwords") == "generate"
                                          or bool(params.get("has_password_column")))


def _run_batch(s: Session, job: Job, rows: list[Any], state: dict[str, Any],
               hasher: Any) -> dict[str, int]:
    org = s.get(Organization, job.organization_id)
    params = job.params
    dry = bool(params.get("dry_run"))
    todo = [r for r in rows if r.status is None]
    idents = [identity(r.data) for r in todo]
    secrets: dict[int, str] = {}
    if todo and hasher is not None:
        idents, secrets = _with_initial_passwords(s, org, todo, idents, params, hasher)
    # Seats the earlier batches of a dry run would have taken (they were rolled back).
    taken = {int(k): v for k, v in state.get("seats_taken", {}).items()}
    results = pipeline.provision(s, org, idents, source=Source.CSV, actor=job_actor(job),
                                 connection=f"csv:{org.id}", create_groups=True, dry_run=dry,
                                 seats_taken=taken if dry else None) if todo else []
    updates = []
    for r, ident, res in zip(todo, idents, results):
        secret = secrets.get(r.line) if res.outcome is Outcome.CREATED else None
        updates.append({"rid": r.id, "status": res.outcome.value,
                        "reason": res.reason.value if res.reason else None,
                        "field": REASON_FIELDS.get(res.reason) if res.reason else None,
                        "message": res.message or ", ".join(res.changes),
                        "user_id": res.user_id, "secret": secret})
        if dry:
            _count_seat(taken, ident, res)
    if updates:
        from sqlalchemy import bindparam
        s.execute(update(T).where(T.c.id == bindparam("rid")).values(
            status=bindparam("status"), reason=bindparam("reason"), field=bindparam("field"),
            message=bindparam("message"), user_id=bindparam("user_id"),
            secret=bindparam("secret")), updates)
    state["seats_taken"] = {str(k): v for k, v in taken.items()}
    counts = Counter(state.get("counts", {}))
    counts.update(u["status"] for u in updates)
    counts.update(r.status for r in rows if r.status is not None)
    return dict(counts)


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
        if r.data.get("password"):
            plain[i] = r.data["password"]
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
