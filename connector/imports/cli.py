"""``connector import ...`` and ``connector accounts ...``: the job runs in-process (an admin at
a terminal) while its Job row records status and progress like any other job."""
from __future__ import annotations

import os
import sys

import click

from .. import db, orgs
from ..cli import OPERATOR, command, emit, json_option
from ..errors import ConnectorError
from ..jobs import run_job, serialize
from ..models import Job


def _run_with_bar(job_id: int, label: str, as_json: bool) -> dict:
    """Run the job here with a progress bar on stderr; return its final state."""
    bar = None

    def on_progress(done: int, total: int | None) -> None:
        nonlocal bar
        if as_json or not total:
            return
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True,
                                    show_eta=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        run_job(job_id, on_progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    with db.transaction() as session:
        return serialize(session.get(Job, job_id))


def _finish(out: dict, as_json: bool) -> None:
    if out["status"] == "failed":
        click.echo(f"error: {out['error']}", err=True)
        sys.exit(1)
    if as_json:
        emit(out, True)


@click.group("import")
def import_group() -> None:
    """Import users from CSV or Excel files."""


@import_group.command("csv")
@click.argument("account")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would happen.")
@click.option("--generate-passwords", is_flag=True,
              help="Give new accounts without a password column a generated password.")
@click.option("--passphrases", is_flag=True, help="Generated passwords are short passphrases.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Write the per-row report CSV here.")
@json_option
@click.pass_obj
def import_csv(state, account, file, dry_run, generate_passwords, passphrases, report_path,
               as_json):
    """Import FILE (.csv, .tsv, .txt or .xlsx) into ACCOUNT."""
    from . import service
    try:
        with state.ready_app().app_context():
            with db.transaction() as session:
                org = orgs.require_org(session, account)
                with open(file, "rb") as fh:
                    path = service.save_upload(fh, os.path.basename(file))
                job = service.start_import(
                    session, org, path, os.path.basename(file), actor=OPERATOR,
                    dry_run=dry_run, passwords="generate" if generate_passwords else "none",
                    passphrases=passphrases)
                job_id = job.id
            out = _run_with_bar(job_id, "dry run" if dry_run else "importing", as_json)
            with db.transaction() as session:
                job = session.get(Job, job_id)
                out["errors"] = service.errors(session, job, limit=1000)
                if report_path:
                    org = orgs.require_org(session, account)
                    with open(report_path, "wb") as fh:
                        fh.write(service.write_report(session, job, org, actor=OPERATOR).read())
    except ConnectorError as err:
        click.echo(f"error: {err.message} ({err.code})", err=True)
        sys.exit(1)
    _finish(out, as_json)
    if not as_json:
        r = out["result"]
        counts = r.get("counts", {})
        click.echo(("dry run: " if dry_run else "imported: ") + ", ".join(
            f"{k} {counts.get(k, 0)}" for k in ("created", "joined", "updated", "unchanged",
                                                "rejected")) + f" ({out['rows_done']} rows)")
        if r.get("unknown_columns"):
            click.echo("ignored unknown columns: " + ", ".join(r["unknown_columns"]))
        for e in out["errors"]:
            click.echo(f"line {e['line']}: {e['column'] or '-'}: {e['message']} ({e['reason']})")


@import_group.command("template")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write to a file.")
def import_template(out_path):
    """Print (or write) the CSV template with every column."""
    from .report import template
    if out_path:
        with open(out_path, "w", encoding="utf-8", newline="") as fh:
            fh.write(template())
    else:
        click.echo(template().lstrip("\ufeff"), nl=False)


@click.group("accounts")
def accounts_group() -> None:
    """Generated accounts (no real email) and password resets."""


@accounts_group.command("generate")
@click.argument("account")
@click.option("--count", type=int, required=True)
@click.option("--prefix", default="user", show_default=True)
@click.option("--role")
@click.option("--group")
@click.option("--sub-organization")
@click.option("--passphrases", is_flag=True, help="Short word passphrases (young learners).")
@click.option("--no-must-change", is_flag=True, help="Do not force a change at first sign-in.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Credential sheet: FILE.csv or FILE.pdf.")
@json_option
@click.pass_obj
def accounts_generate(state, account, count, prefix, role, group, sub_organization, passphrases,
                      no_must_change, out_path, as_json):
    """Create COUNT accounts and write their credential sheet (shown this once)."""
    from ..accounts import service
    fmt = out_path.rsplit(".", 1)[-1].lower()
    try:
        if fmt not in ("csv", "pdf"):
            raise ConnectorError("--out must end in .csv or .pdf.", code="invalid_format")
        with state.ready_app().app_context():
            with db.transaction() as session:
                org = orgs.require_org(session, account)
                job_id = service.generate(
                    session, org, count, actor=OPERATOR, prefix=prefix, role=role, group=group,
                    sub_organization=sub_organization, passphrases=passphrases,
                    must_change=not no_must_change).id
            out = _run_with_bar(job_id, "generating", as_json)
            if out["status"] == "done":
                with db.transaction() as session:
                    data, _, _ = service.take_sheet(session, orgs.require_org(session, account),
                                                    job_id, actor=OPERATOR, fmt=fmt)
                fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
    except ConnectorError as err:
        click.echo(f"error: {err.message} ({err.code})", err=True)
        sys.exit(1)
    _finish(out, as_json)
    if not as_json:
        counts = out["result"].get("counts", {})
        click.echo(f"created {counts.get('created', 0)} accounts in {account}; credentials "
                   f"written to {out_path} (shown this once)")


@accounts_group.command("reset-password")
@click.argument("account")
@click.argument("user")
@click.option("--passphrase", is_flag=True)
@json_option
@command
def accounts_reset(session, account, user, passphrase, as_json):
    """Give USER (username, email or id) a new password; printed once."""
    from ..accounts import service
    u, password = service.reset_password(session, orgs.require_org(session, account), user,
                                         actor=OPERATOR, passphrase=passphrase)
    emit({"user_id": u.id, "username": u.username, "email": u.email, "password": password,
          "must_change_password": True}, as_json, ["user_id", "username", "email", "password"])
