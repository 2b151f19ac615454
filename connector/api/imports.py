"""Admin API for CSV imports, generated accounts, their jobs and password resets."""
from __future__ import annotations

from flask import Response, after_this_request, jsonify, request, send_file

from .. import jobs
from ..accounts import service as accounts
from ..errors import InvalidInput
from ..imports import service as imports
from ..imports.report import template
from . import bp, body, endpoint

_TRUE = {"1", "true", "yes", "on"}


def _enqueue_after_commit(job_id: int) -> None:
    # The endpoint's transaction commits when the view returns; only then may a worker see it.
    @after_this_request
    def _send(response):
        if response.status_code < 400:
            jobs.enqueue(job_id)
        return response


def _job(session, job) -> dict:
    out = jobs.serialize(job)
    if job.kind == "csv_import":
        out["errors"] = imports.errors(session, job)
    return out


@bp.get("/organizations/<account>/imports/template")
@endpoint("imports.run")
def import_template(session, caller, org):
    return Response(template(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=import-template.csv"})


@bp.post("/organizations/<account>/imports")
@endpoint("imports.run")
def upload_import(session, caller, org):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("Send the file as multipart/form-data field 'file'.",
                           code="file_required")
    form = request.form
    path = imports.save_upload(upload.stream, upload.filename)
    job = imports.start_import(
        session, org, path, upload.filename, actor=caller.actor,
        dry_run=form.get("dry_run", "true").lower() in _TRUE,
        passwords=form.get("passwords", "none"),
        passphrases=form.get("passphrases", "").lower() in _TRUE,
        must_change=form.get("must_change", "true").lower() in _TRUE)
    _enqueue_after_commit(job.id)
    return jsonify(_job(session, job)), 202


@bp.get("/organizations/<account>/jobs/<int:job_id>")
@endpoint("imports.run")
def show_job(session, caller, org, job_id):
    return jsonify(_job(session, jobs.require_job(session, org, job_id)))


@bp.post("/organizations/<account>/imports/<int:job_id>/commit")
@endpoint("imports.run")
def commit_import(session, caller, org, job_id):
    dry = jobs.require_job(session, org, job_id, "csv_import")
    job = imports.commit_import(session, org, dry, actor=caller.actor)
    _enqueue_after_commit(job.id)
    return jsonify(_job(session, job)), 202


@bp.get("/organizations/<account>/imports/<int:job_id>/report")
@endpoint("imports.run")
def import_report(session, caller, org, job_id):
    job = jobs.require_job(session, org, job_id, "csv_import")
    fh = imports.write_report(session, job, org, actor=caller.actor)
    resp = send_file(fh, mimetype="text/csv", as_attachment=True,
                     download_name=f"import-{job.id}-report.csv")
    resp.headers["Cache-Control"] = "no-store"  # may hold generated passwords
    return resp


@bp.post("/organizations/<account>/accounts/generate")
@endpoint("imports.run")
def generate_accounts(session, caller, org):
    d = body()
    count = d.get("count")
    job = accounts.generate(
        session, org, count if isinstance(count, int) else -1, actor=caller.actor,
        prefix=str(d.get("prefix") or "user"), role=d.get("role"), group=d.get("group"),
        sub_organization=d.get("sub_organization"), passphrases=bool(d.get("passphrases")),
        must_change=bool(d.get("must_change", True)))
    _enqueue_after_commit(job.id)
    return jsonify(_job(session, job)), 202


@bp.get("/organizations/<account>/accounts/generate/<int:job_id>/sheet")
@endpoint("imports.run")
def credential_sheet(session, caller, org, job_id):
    data, name, mimetype = accounts.take_sheet(session, org, job_id, actor=caller.actor,
                                               fmt=request.args.get("format", "pdf"))
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})


@bp.post("/organizations/<account>/members/<int:user_id>/reset-password")
@endpoint("members.manage")
def reset_password(session, caller, org, user_id):
    d = request.get_json(silent=True) or {}
    user, password = accounts.reset_password(session, org, user_id, actor=caller.actor,
                                             passphrase=bool(d.get("passphrase")))
    resp = jsonify({"user_id": user.id, "username": user.username, "password": password,
                    "must_change_password": True})
    resp.headers["Cache-Control"] = "no-store"
    return resp
