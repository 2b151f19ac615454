"""One directory sync run: read everything first (spooled to disk, so 100,000 entries never sit
in memory), check the read was complete and the deactivations are within bounds, then write
through the pipeline in batches and deprovision those who left.

Safety rules: a failed or partial read (connection lost, size limit, referral) writes nothing and
deprovisions nobody; a run that would deactivate more than the allowed share of the
organization's active members stops with ``needs_confirmation`` before writing anything."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from providers import ldap as directory

from .. import db, pipeline
from ..db import utcnow
from ..errors import ConnectorError
from ..events import record
from ..identity import Actor, Identity, Outcome, Source
from ..models import LinkedIdentity, Membership, MembershipStatus, Organization
from ..pipeline.context import chunks
from ..roles import RANKS
from .models import LdapRun, LdapSource, RunStatus
from .sources import directory_config

BATCH = 500
MAX_ERRORS = 1000  # per run report; the count keeps going
STALE_LOCK = timedelta(hours=2)
ACTIVE = MembershipStatus.ACTIVE.value
Progress = Callable[[str, int, "int | None"], None]


def connection_name(source: LdapSource | SourceView) -> str:
    return f"ldap:{source.id}"


@dataclass(frozen=True)
class SourceView:
    """What a run needs of its source, read once: the pipeline expires ORM objects."""

    id: int
    organization_id: int
    config: directory.DirectoryConfig
    group_roles: dict[str, str]
    group_sub_orgs: dict[str, str]
    max_deactivate_percent: float | None
    watermark: str | None

    @classmethod
    def of(cls, source: LdapSource) -> SourceView:
        return cls(source.id, source.organization_id, directory_config(source),
                   dict(source.group_roles or {}), dict(source.group_sub_orgs or {}),
                   source.max_deactivate_percent, source.watermark)


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("read", "created", "updated", "unchanged", "deactivated", "rejected", "skipped"), 0))
    errors: list[dict[str, Any]] = field(default_factory=list)
    watermark: str | None = None

    def error(self, dn: str, code: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"dn": dn, "code": code, "message": message})


def queue_run(session: Session, source: LdapSource, *, full: bool = False, dry_run: bool = False,
              confirm_deactivations: bool = False, actor: Actor) -> LdapRun:
    """Record a run to execute (now by the CLI, or by the scheduler loop)."""
    run = LdapRun(source_id=source.id, organization_id=source.organization_id, full=full,
                  dry_run=dry_run, confirm_deactivations=confirm_deactivations,
                  status=RunStatus.QUEUED, actor=actor.label, counts={}, errors=[])
    session.add(run)
    session.flush()
    return run


def execute(run_id: int, *, progress: Progress | None = None) -> LdapRun:
    """Execute a queued run in its own transactions (call inside an app context)."""
    session = db.new_session()
    try:
        return _execute(session, run_id, progress or (lambda *_: None))
    finally:
        session.close()


def _execute(session: Session, run_id: int, progress: Progress) -> LdapRun:
    with session.begin():
        # Claim the run: of two workers polling the queue, one executes it.
        if not session.execute(update(LdapRun).where(
                LdapRun.id == run_id, LdapRun.status == RunStatus.QUEUED)
                .values(status=RunStatus.RUNNING)).rowcount:
            return session.get(LdapRun, run_id)
        run = session.get(LdapRun, run_id)
        source = session.get(LdapSource, run.source_id)
        now = utcnow()
        # Claim the source: two workers never sync it at once (stale claims expire).
        claimed = session.execute(update(LdapSource).where(
            LdapSource.id == source.id,
            (LdapSource.running_since.is_(None)) | (LdapSource.running_since < now - STALE_LOCK))
            .values(running_since=now)).rowcount
        if not claimed:
            _finish(run, RunStatus.FAILED, "Another sync of this source is running.")
            return run
        run.status, run.started_at, run.phase = RunStatus.RUNNING, now, "read"
        source.last_run_at = now
        view = SourceView.of(source)
        full, dry_run, confirm = run.full, run.dry_run, run.confirm_deactivations
    report = Report()
    try:
        status, message = _run(session, run_id, full, dry_run, confirm, view, report, progress)
    except ConnectorError as err:
        session.rollback()
        status, message = RunStatus.FAILED, err.message
    except Exception:  # noqa: BLE001 - the report says it failed; the log has the detail
        session.rollback()
        current_app.logger.exception("LDAP sync run %s failed", run_id)
        status, message = RunStatus.FAILED, "Internal error; see the server log."
    with session.begin():
        run, source = session.get(LdapRun, run_id), session.get(LdapSource, view.id)
        run.counts, run.errors = dict(report.counts), list(report.errors)
        _finish(run, status, message)
        source.running_since = None
        if status is RunStatus.SUCCEEDED:
            source.last_success_at = run.finished_at
            if run.full:
                source.last_full_at = run.finished_at
            if report.watermark:
                source.watermark = report.watermark
        record(session, run.organization_id, "ldap.sync_finished", source=Source.LDAP,
               actor=run.actor, target_type="ldap_source", target_id=source.id,
               run_id=run.id, status=str(status), counts=run.counts)
    return run


def _finish(run: LdapRun, status: RunStatus, message: str) -> None:
    run.status, run.message, run.finished_at, run.phase = status, message, utcnow(), "done"


def _set_phase(session: Session, run_id: int, phase: str, done: int) -> None:
    with session.begin():
        session.execute(update(LdapRun).where(LdapRun.id == run_id)
                        .values(phase=phase, progress=done))


def _run(session: Session, run_id: int, full: bool, dry_run: bool, confirm: bool,
         source: SourceView, report: Report, progress: Progress) -> tuple[RunStatus, str]:
    cfg = source.config
    amap = cfg.attribute_map()
    since = None if full else source.watermark
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        seen, disabled = _read(session, run_id, cfg, since, spool, report, progress,
                               numeric=amap.stamp_numeric, old=source.watermark)
        with session.begin():
            org = session.get(Organization, source.organization_id)
            # An incremental run only needs the links of the disabled entries it read.
            links, active_users, active_total = _current(session, org, connection_name(source),
                                                         None if full else disabled)
        unseen = {links[x] for x in set(links) - seen} if full else set()
        going = {links[x] for x in disabled if x in links} | unseen
        going &= active_users
        limit = source.max_deactivate_percent
        if limit is None:
            limit = float(current_app.config.get("LDAP_MAX_DEACTIVATE_PERCENT", 10))
        if going and not confirm and len(going) * 100 > limit * max(active_total, 1):
            msg = (f"This run would deactivate {len(going)} of {active_total} active members "
                   f"(more than {limit:g}%). Nothing was changed; run it again with "
                   "confirmation (--confirm-deactivations) if this is expected.")
            if not dry_run:
                report.counts["deactivated"] = len(going)
                return RunStatus.NEEDS_CONFIRMATION, msg
            report.errors.insert(0, {"dn": "", "code": "needs_confirmation", "message": msg})
        spool.seek(0)
        _write(session, run_id, dry_run, source, spool, set(links), report, progress)
    # Only reached after a complete read: a partial one raised before anything was written.
    if unseen:
        _deprovision(session, dry_run, source, unseen & active_users, report)
    if dry_run:
        return RunStatus.DRY_RUN, "Dry run: nothing was written."
    return RunStatus.SUCCEEDED, ""


def _read(session: Session, run_id: int, cfg: directory.DirectoryConfig, since: str | None,
          spool, report: Report, progress: Progress, *, numeric: bool,
          old: str | None) -> tuple[set[str], set[str]]:
    """Stream the directory into the spool. Any read error propagates: nothing gets written."""
    seen: set[str] = set()
    disabled: set[str] = set()
    best = old
    conn = directory.connect(cfg.validate())
    try:
        groups = directory.load_groups(conn, cfg)
        for rec in directory.records(conn, cfg, since=since, groups=groups):
            report.counts["read"] += 1
            ext = rec.identity.external_id
            if not ext:
                report.counts["rejected"] += 1
                report.error(rec.dn, "missing_id", "The entry has no stable id attribute.")
                continue
            if ext in seen:
                continue  # the same entry twice (e.g. overlapping bases): keep the first
            seen.add(ext)
            if rec.disabled:
                disabled.add(ext)
            if rec.stamp and (best is None or _newer(rec.stamp, best, numeric)):
                best = rec.stamp
            # vars(), not asdict(): asdict deep-copies every field (a third of the write time).
            spool.write(json.dumps({"dn": rec.dn, "disabled": rec.disabled,
                                    "identity": vars(rec.identity)}) + "\n")
            if report.counts["read"] % 1000 == 0:
                progress("read", report.counts["read"], None)
                _set_phase(session, run_id, "read", report.counts["read"])
    finally:
        directory._unbind(conn)
    progress("read", report.counts["read"], report.counts["read"])
    report.watermark = best
    return seen, disabled


def _newer(a: str, b: str, numeric: bool) -> bool:
    if numeric:
        try:
            return int(a) > int(b)
        except ValueError:
            return False
    return a > b  # GeneralizedTime in one format compares as text


def _current(session: Session, org: Organization, connection: str,
             only: set[str] | None) -> tuple[dict[str, int], set[int], int]:
    """Links of this source (all, or those of ``only``), which of their users are active
    members, and how many active members the organization has."""
    q = select(LinkedIdentity.external_id, LinkedIdentity.user_id).where(
        LinkedIdentity.connection == connection)
    if only is None:
        links = dict(session.execute(q).all())
    else:
        links = {}
        for chunk in chunks(sorted(only)):
            links.update(session.execute(q.where(LinkedIdentity.external_id.in_(chunk))).all())
    subtree = select(Organization.id).where(Organization.path.like(org.path + "%"))
    q = select(Membership.user_id).join(LinkedIdentity, LinkedIdentity.user_id == Membership.user_id)\
        .where(LinkedIdentity.connection == connection, Membership.status == ACTIVE,
               Membership.organization_id.in_(subtree))
    if only is None:
        active_linked = set(session.scalars(q))
    else:
        active_linked = set()
        for chunk in chunks(sorted(set(links.values()))):
            active_linked.update(session.scalars(q.where(Membership.user_id.in_(chunk))))
    total = session.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id.in_(subtree), Membership.status == ACTIVE)) or 0
    return links, active_linked, total


def _spooled(spool) -> Iterator[list[tuple[str, bool, Identity]]]:
    batch = []
    for line in spool:
        row = json.loads(line)
        ident = row["identity"]
        if ident.get("groups") is not None:
            ident["groups"] = tuple(ident["groups"])
        batch.append((row["dn"], row["disabled"], Identity(**ident)))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _mapped(source: SourceView, org: Organization, ident: Identity) -> Identity:
    """Group -> role and group -> sub-organization mappings of the source."""
    roles, subs = source.group_roles or {}, source.group_sub_orgs or {}
    if not (roles or subs):
        return ident
    names = [g.lower() for g in ident.groups or ()]
    changes: dict[str, Any] = {}
    if roles:
        mapped = [roles[g] for g in names if roles.get(g) in RANKS]
        # The directory is authoritative for roles once a mapping exists: no group, default role.
        changes["role"] = max(mapped, key=RANKS.__getitem__) if mapped else org.default_role
    sub = sorted(subs[g] for g in names if g in subs)
    if sub:
        changes["sub_organization"] = sub[0]
    return replace(ident, **changes)


def _write(session: Session, run_id: int, dry_run: bool, source: SourceView, spool,
           linked: set[str], report: Report, progress: Progress) -> None:
    """Provision the spooled records in batches, one transaction each."""
    actor = Actor.system(f"ldap:{source.id}")
    done = 0
    for batch in _spooled(spool):
        # A disabled entry nobody here knows yet is not worth creating an account for.
        todo = [(dn, off, i) for dn, off, i in batch if not (off and i.external_id not in linked)]
        report.counts["skipped"] += len(batch) - len(todo)
        with session.begin():
            org = session.get(Organization, source.organization_id)
            results = pipeline.provision(
                session, org, [_mapped(source, org, i) for _, _, i in todo], source=Source.LDAP,
                actor=actor, connection=connection_name(source), groups_mode="sync",
                create_groups=True, dry_run=dry_run)
        for (dn, off, _), r in zip(todo, results):
            if r.outcome is Outcome.REJECTED:
                report.counts["rejected"] += 1
                report.error(dn, r.reason.value if r.reason else "rejected", r.message)
            elif r.outcome in (Outcome.CREATED, Outcome.JOINED):
                report.counts["created"] += 1
            elif off and "status" in r.changes:
                report.counts["deactivated"] += 1
            else:
                report.counts[r.outcome.value] += 1
        done += len(batch)
        progress("write", done, report.counts["read"])
        _set_phase(session, run_id, "write", done)


def _deprovision(session: Session, dry_run: bool, source: SourceView, user_ids: set[int],
                 report: Report) -> None:
    """Members linked to this source that the (complete) full read did not find."""
    if dry_run:
        report.counts["deactivated"] += len(user_ids)
        return
    actor = Actor.system(f"ldap:{source.id}")
    with session.begin():
        org = session.get(Organization, source.organization_id)
        subtree = session.scalars(select(Organization).where(
            Organization.path.like(org.path + "%"), Organization.deleted_at.is_(None))).all()
        for target in subtree:
            ids = sorted(set(session.scalars(select(Membership.user_id).where(
                Membership.organization_id == target.id, Membership.status == ACTIVE,
                Membership.user_id.in_(user_ids)))))
            if not ids:
                continue
            try:
                with session.begin_nested():
                    report.counts["deactivated"] += pipeline.deprovision(
                        session, target, ids, actor=actor, source=Source.LDAP)
            except ConnectorError as err:
                report.error("", err.code, f"{target.account}: {err.message}")
