"""CSV import and generated accounts: upload, dry-run preview, commit, live progress, report,
credential sheet. Thin pages over connector.imports, connector.accounts and connector.jobs."""
from __future__ import annotations

from flask import Response, jsonify, render_template, request, send_file, url_for
from sqlalchemy import select

from .. import db, jobs, orgs
from ..accounts import service as accounts
from ..errors import InvalidInput
from ..imports import service as imports
from ..imports.models import ImportRow
from ..imports.reader import FIELDS
from ..imports.report import template
from ..models import Job
from ..roles import RANKS
from . import bp
from .chart import bar_list
from .common import NAV, actor_for, attempt, back, int_or_none, org_page

NAV.insert(3, ("console.imports_page", "CSV import", "imports.run"))
NAV.insert(4, ("console.generate", "Generated accounts", "imports.run"))
PREVIEW_ERRORS, PREVIEW_SAMPLE = 200, 15


def recent_jobs(org, kind: str, limit: int = 10) -> list[Job]:
    return list(db.session().scalars(select(Job).where(
        Job.organization_id == org.id, Job.kind == kind).order_by(Job.id.desc()).limit(limit)))


def preview_rows(job: Job) -> list[ImportRow]:
    """Rejected rows first (up to the limit), then a sample of the first accepted ones."""
    def rows(rejected: bool, limit: int) -> list[ImportRow]:
        cond = ImportRow.status == "rejected" if rejected else ImportRow.status != "rejected"
        return list(db.session().scalars(select(ImportRow).where(
            ImportRow.job_id == job.id, cond).order_by(ImportRow.line).limit(limit)))
    return rows(True, PREVIEW_ERRORS) + rows(False, PREVIEW_SAMPLE)


def _after_commit(job: Job | None):
    """Queue the job once its transaction committed (a worker must see the row)."""
    if job is not None:
        jobs.enqueue(job.id)
    return job


@bp.get("/orgs/<account>/jobs/<int:job_id>.json")
@org_page("imports.run")
def job_status(org, job_id):
    """The job's progress for the page's polling (session-authenticated twin of the API)."""
    return jsonify(jobs.serialize(jobs.require_job(db.session(), org, job_id)))


@bp.get("/orgs/<account>/imports")
@org_page("imports.run")
def imports_page(org):
    return render_template("console/imports.html", org=org, fields=FIELDS,
                           recent=recent_jobs(org, "csv_import"))


@bp.get("/orgs/<account>/imports/template.csv")
@org_page("imports.run")
def import_template(org):
    return Response(template(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=import-template.csv"})


@bp.post("/orgs/<account>/imports")
@org_page("imports.run")
def upload(org):
    f, upload = request.form, request.files.get("file")

    def start(session):
        if upload is None or not upload.filename:
            raise InvalidInput("Choose a file to upload.", code="file_required")
        path = imports.save_upload(upload.stream, upload.filename)
        return imports.start_import(session, org, path, upload.filename, actor=actor_for(org),
                                    dry_run=True, passwords=f.get("passwords", "none"),
                                    must_change=bool(f.get("must_change")))
    job = _after_commit(attempt(start))
    return back("console.import_job", job_id=job.id) if job else back("console.imports_page")


@bp.get("/orgs/<account>/imports/<int:job_id>")
@org_page("imports.run")
def import_job(org, job_id):
    session = db.session()
    job = jobs.require_job(session, org, job_id, "csv_import")
    counts = (job.result or {}).get("counts") or {}
    rows = preview_rows(job) if job.status == "done" else []
    columns = [c for c in FIELDS if any((r.data or {}).get(c) for r in rows)] or list(FIELDS[:4])
    return render_template("console/import_job.html", org=org, job=job, rows=rows,
                           columns=columns, counts=counts, bars=bar_list(counts) if counts else "",
                           dry=bool(job.params.get("dry_run")),
                           status_url=url_for("console.job_status", account=org.account,
                                              job_id=job.id))


@bp.post("/orgs/<account>/imports/<int:job_id>/commit")
@org_page("imports.run")
def commit(org, job_id):
    job = _after_commit(attempt(lambda s: imports.commit_import(
        s, org, jobs.require_job(s, org, job_id, "csv_import"), actor=actor_for(org))))
    return back("console.import_job", job_id=job.id if job else job_id)


@bp.get("/orgs/<account>/imports/<int:job_id>/report.csv")
@org_page("imports.run")
def import_report(org, job_id):
    with db.transaction() as session:  # the first download erases generated passwords: a write
        job = jobs.require_job(session, org, job_id, "csv_import")
        fh = imports.write_report(session, job, org, actor=actor_for(org))
    return send_file(fh, mimetype="text/csv", as_attachment=True,
                     download_name=f"import-{job.id}-report.csv")


@bp.route("/orgs/<account>/accounts/generate", methods=["GET"])
@org_page("imports.run")
def generate(org):
    actor = actor_for(org)
    return render_template("console/generate.html", org=org,
                           subs=[o for o in orgs.subtree(db.session(), org) if o.id != org.id],
                           roles=[r for r in RANKS if r != "owner" and RANKS[r] <= actor.rank],
                           recent=recent_jobs(org, "generate_accounts"), me_label=actor.label)


@bp.post("/orgs/<account>/accounts/generate")
@org_page("imports.run")
def start_generate(org):
    f = request.form
    job = _after_commit(attempt(lambda s: accounts.generate(
        s, org, int_or_none(f.get("count")) or -1, actor=actor_for(org),
        prefix=(f.get("prefix") or "user").strip(), role=f.get("role") or None,
        group=(f.get("group") or "").strip() or None, passphrases=bool(f.get("passphrases")),
        sub_organization=f.get("sub_organization") or None,
        must_change=True)))
    return back("console.generate_job", job_id=job.id) if job else back("console.generate")


@bp.get("/orgs/<account>/accounts/generate/<int:job_id>")
@org_page("imports.run")
def generate_job(org, job_id):
    job = jobs.require_job(db.session(), org, job_id, "generate_accounts")
    return render_template("console/generate_job.html", org=org, job=job,
                           mine=job.created_by == actor_for(org).label,
                           taken=bool((job.result or {}).get("sheet_downloaded_by")),
                           status_url=url_for("console.job_status", account=org.account,
                                              job_id=job.id))


@bp.post("/orgs/<account>/accounts/generate/<int:job_id>/sheet")
@org_page("imports.run")
def take_sheet(org, job_id):
    """POST, not GET: taking the sheet erases its passwords, so no prefetch may trigger it."""
    fmt = request.form.get("format", "pdf")
    got = attempt(lambda s: accounts.take_sheet(s, org, job_id, actor=actor_for(org), fmt=fmt))
    if not got:
        return back("console.generate_job", job_id=job_id)
    data, name, mimetype = got
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})
