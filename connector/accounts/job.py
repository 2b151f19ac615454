"""The account generation job: per batch, make passwords and hash them across cores (outside
any transaction), then in one transaction pick fresh usernames, provision the accounts through
the pipeline, seal the passwords for the credential sheet and record progress."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, insert, select, update

from .. import db, pipeline
from ..errors import Conflict
from ..identity import Identity, Outcome, Source
from ..imports.job import job_actor
from ..imports.models import ImportRow
from ..jobs import finish, progress
from ..models import Job, Organization
from .passwords import Hasher, new_passphrase, new_password, seal
from .usernames import next_numbered

T = ImportRow.__table__
RETRIES = 5


class _Taken(Exception):
    """A username was taken between choosing it and inserting it (another generator ran)."""


@dataclass
class _Batch:
    lines: list[int]
    plain: list[str]
    hashes: list[str]


def run(job_id: int, on_progress) -> None:
    """Generate (or finish generating) the job's accounts."""
    with db.transaction() as s:
        job = s.get(Job, job_id)
        count = int(job.params["count"])
        if not (job.result or {}).get("staged"):
            # One staging row per account to make; a resumed job finds its pending ones here.
            s.execute(insert(ImportRow), [
                {"job_id": job_id, "line": i, "data": {}, "message": ""}
                for i in range(1, count + 1)])
            progress(s, job, 0, count, staged=True, counts={})
    size = int(current_app.config.get("GENERATE_BATCH_SIZE", 100))
    with Hasher() as hasher:
        while True:
            with db.transaction() as s:
                job = s.get(Job, job_id)
                params = dict(job.params)
                lines = list(s.scalars(select(ImportRow.line).where(
                    ImportRow.job_id == job_id, ImportRow.status.is_(None))
                    .order_by(ImportRow.line).limit(size)))
            if not lines:
                break
            make = new_passphrase if params.get("passphrases") else new_password
            plain = [make() for _ in lines]
            batch = _Batch(lines, plain, hasher.hash_many(plain))
            for attempt in range(RETRIES):
                try:
                    done, total = _commit(job_id, batch)
                    break
                except _Taken:
                    if attempt == RETRIES - 1:
                        raise Conflict("Usernames kept colliding with another generator; "
                                       "run the job again.", code="username_collision")
            on_progress(done, total)
    finish(job_id, "done")


def _commit(job_id: int, b: _Batch) -> tuple[int, int]:
    with db.transaction() as s:
        job = s.get(Job, job_id)
        p = job.params
        org = s.get(Organization, job.organization_id)
        names = next_numbered(s, p["prefix"], len(b.lines))
        idents = [Identity(username=u, password_hash=h, must_change_password=bool(
            p.get("must_change", True)), role=p.get("role"), display_name=u,
            groups=(p["group"],) if p.get("group") else None,
            sub_organization=p.get("sub_organization")) for u, h in zip(names, b.hashes)]
        results = pipeline.provision(s, org, idents, source=Source.GENERATED,
                                     actor=job_actor(job), create_groups=True)
        if any(r.outcome is not Outcome.CREATED and r.reason in (None, "username_taken")
               for r in results):
            # The username matched someone made meanwhile: never hand out their account.
            raise _Taken()
        s.execute(update(T).where(T.c.job_id == job_id, T.c.line == bindparam("ln")).values(
            status=bindparam("status"), reason=bindparam("reason"), message=bindparam("msg"),
            user_id=bindparam("uid"), secret=bindparam("secret"),
            data=bindparam("data")), [
            {"ln": ln, "status": r.outcome.value, "uid": r.user_id,
             "reason": r.reason.value if r.reason else None, "msg": r.message,
             "secret": seal(pw) if r.ok else None, "data": {"username": u}}
            for ln, r, pw, u in zip(b.lines, results, b.plain, names)])
        counts = dict(job.result.get("counts") or {})
        for r in results:
            counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
        progress(s, job, job.progress_done + len(b.lines), counts=counts)
        return job.progress_done, job.progress_total
