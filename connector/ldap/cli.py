"""``connector ldap add|list|test|remove|sync|runs``: directory sources from the command line."""
from __future__ import annotations

import sys

import click

from .. import db, orgs
from ..cli import OPERATOR, command, emit, json_option
from ..errors import ConnectorError, InvalidInput
from . import sources
from .models import RunStatus

COLUMNS = ["id", "name", "preset", "urls", "base_dn", "interval_minutes", "enabled",
           "last_success_at"]


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise InvalidInput(f"{what} takes NAME=VALUE, got {v!r}.", code="invalid_option")
        out[key.strip()] = val.strip()
    return out


@click.group("ldap")
def ldap_group() -> None:
    """LDAP / Active Directory directory sync."""


@ldap_group.command("add")
@click.argument("account")
@click.argument("name")
@click.option("--url", "urls", multiple=True, required=True,
              help="ldap://host[:port] (with --start-tls) or ldaps://host[:port]; repeat for fallbacks.")
@click.option("--base-dn", required=True)
@click.option("--bind-dn", default="")
@click.option("--bind-password", prompt=True, hide_input=True, default="",
              help="Prompted when omitted; stored encrypted with SECRET_KEY.")
@click.option("--start-tls", is_flag=True)
@click.option("--no-verify", is_flag=True, help="Do not verify the server certificate (unsafe).")
@click.option("--ca-file", help="PEM file of the CA that signed the server certificate.")
@click.option("--preset", type=click.Choice(["openldap", "active_directory"]), default="openldap")
@click.option("--scope", type=click.Choice(["base", "one", "subtree"]), default="subtree")
@click.option("--user-filter", default="")
@click.option("--map", "mapping", multiple=True, help="FIELD=attribute, e.g. email=mail.")
@click.option("--group-kind", default="none",
              type=click.Choice(["none", "groupOfNames", "groupOfUniqueNames", "posixGroup",
                                 "ad_nested", "memberOf"]))
@click.option("--group-base", default="")
@click.option("--group-filter", default="")
@click.option("--group-role", multiple=True, help="GROUP=ROLE (admin, staff, member).")
@click.option("--group-sub-org", multiple=True, help="GROUP=SUB_ORGANIZATION_ACCOUNT.")
@click.option("--page-size", type=int, default=500, show_default=True)
@click.option("--interval", "interval_minutes", type=int, default=60, show_default=True,
              help="Minutes between scheduled runs; 0 = manual only.")
@click.option("--max-deactivate-percent", type=float)
@click.option("--ignore-referrals", is_flag=True,
              help="Skip continuation references (AD domain root) instead of failing the read.")
@json_option
@command
def ldap_add(session, account, name, urls, base_dn, bind_dn, bind_password, start_tls,
             no_verify, ca_file, preset, scope, user_filter, mapping, group_kind, group_base,
             group_filter, group_role, group_sub_org, page_size, interval_minutes,
             max_deactivate_percent, ignore_referrals, as_json):
    """Add a directory source NAME to ACCOUNT."""
    org = orgs.require_org(session, account)
    src = sources.add_source(session, org, {
        "name": name, "urls": list(urls), "base_dn": base_dn, "bind_dn": bind_dn,
        "start_tls": start_tls, "tls_verify": not no_verify, "ca_file": ca_file,
        "preset": preset, "scope": scope, "user_filter": user_filter,
        "mapping": _pairs(mapping, "--map"), "group_kind": group_kind, "group_base": group_base,
        "group_filter": group_filter, "group_roles": _pairs(group_role, "--group-role"),
        "group_sub_orgs": _pairs(group_sub_org, "--group-sub-org"), "page_size": page_size,
        "interval_minutes": interval_minutes, "max_deactivate_percent": max_deactivate_percent,
        "ignore_referrals": ignore_referrals},
        actor=OPERATOR, password=bind_password)
    emit(sources.serialize(src), as_json, COLUMNS)


@ldap_group.command("list")
@click.argument("account")
@json_option
@command
def ldap_list(session, account, as_json):
    """List the directory sources of ACCOUNT."""
    org = orgs.require_org(session, account)
    emit([sources.serialize(s) for s in sources.list_sources(session, org)], as_json, COLUMNS)


@ldap_group.command("test")
@click.argument("account")
@click.argument("source")
@json_option
@command
def ldap_test(session, account, source, as_json):
    """Bind and read a few entries and the groups of SOURCE (id or name)."""
    from providers.ldap import check_connection
    src = sources.require_source(session, orgs.require_org(session, account), source)
    out = check_connection(sources.directory_config(src))
    if as_json:
        emit(out, True)
        return
    click.echo(f"ok: bound{' over TLS' if out['tls'] else ' (no TLS)'}; "
               f"groups: {out['groups'] if out['groups'] is not None else 'not synced'}")
    emit(out["sample"], False, ["dn", "id", "username", "email", "disabled"])


@ldap_group.command("remove")
@click.argument("account")
@click.argument("source")
@command
def ldap_remove(session, account, source):
    """Remove SOURCE; the members it brought in stay."""
    org = orgs.require_org(session, account)
    src = sources.require_source(session, org, source)
    sources.remove_source(session, org, src, actor=OPERATOR)
    click.echo(f"removed directory source {src.name} from {account}")


@ldap_group.command("runs")
@click.argument("account")
@click.argument("source")
@click.option("--limit", type=int, default=20)
@json_option
@command
def ldap_runs(session, account, source, limit, as_json):
    """Recent sync runs of SOURCE with their counts."""
    src = sources.require_source(session, orgs.require_org(session, account), source)
    rows = [sources.serialize_run(r) for r in sources.list_runs(session, src, limit)]
    if not as_json:
        rows = [{**r, **r["counts"], "errors": len(r["errors"])} for r in rows]
    emit(rows, as_json, ["id", "status", "full", "dry_run", "read", "created", "updated",
                         "unchanged", "deactivated", "rejected", "errors", "finished_at"])


@ldap_group.command("sync")
@click.argument("account")
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Show the diff; write nothing.")
@click.option("--full", is_flag=True, help="Read everything and deprovision who left.")
@click.option("--confirm-deactivations", is_flag=True,
              help="Allow deactivating more than the configured share of members.")
@json_option
@click.pass_obj
def ldap_sync(state, account, source, dry_run, full, confirm_deactivations, as_json):
    """Sync SOURCE of ACCOUNT now (progress on stderr, report on stdout)."""
    from .sync import execute, queue_run
    try:
        with state.ready_app().app_context():
            with db.transaction() as session:
                src = sources.require_source(session, orgs.require_org(session, account), source)
                run_id = queue_run(session, src, full=full, dry_run=dry_run,
                                   confirm_deactivations=confirm_deactivations,
                                   actor=OPERATOR).id

            def progress(phase, done, total):
                click.echo(f"{phase}: {done}{f'/{total}' if total else ''}", err=True)

            run = execute(run_id, progress=progress)
            report = sources.serialize_run(run)
    except ConnectorError as err:
        click.echo(f"error: {err.message} ({err.code})", err=True)
        sys.exit(1)
    _print_report(report, as_json)
    if report["status"] in (RunStatus.FAILED, RunStatus.NEEDS_CONFIRMATION):
        code = "ldap_sync_failed" if report["status"] == RunStatus.FAILED else "needs_confirmation"
        click.echo(f"error: {report['message']} ({code})", err=True)
        sys.exit(1)


def _print_report(report: dict, as_json: bool) -> None:
    if as_json:
        emit(report, True)
        return
    c = report["counts"]
    click.echo(f"run {report['id']}: {report['status']}"
               f"{' (dry run)' if report['dry_run'] else ''}{' full' if report['full'] else ''}")
    click.echo("  ".join(f"{k}={c.get(k, 0)}" for k in (
        "read", "created", "updated", "unchanged", "deactivated", "rejected", "skipped")))
    for e in report["errors"][:50]:
        click.echo(f"  {e['code']}: {e['dn'] or '-'}: {e['message']}")
    if len(report["errors"]) > 50:
        click.echo(f"  ... {len(report['errors']) - 50} more errors (use --json)")
