"""The ``connector`` command: human tables by default, ``--json`` for machines, exit 1 and one
line on stderr on error."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any

import click

from . import credentials, db, members, migrations, orgs, pipeline
from .api import serialize as s
from .errors import ConnectorError
from .identity import Actor
from .models import CredentialKind

OPERATOR = Actor.operator()


class CLIState:
    def __init__(self) -> None:
        self._app = None

    @property
    def app(self):
        if self._app is None:
            from . import create_app
            self._app = create_app()
        return self._app

    def ready_app(self):
        """The app with its database at head: the embedded default migrates itself (as
        ``serve`` does); a configured production database must be upgraded on purpose."""
        app = self.app
        if not app.extensions.get("connector.cli_checked"):
            with app.app_context():
                if not migrations.at_head(db.engine()):
                    if app.config.get("DATABASE_URL"):
                        click.echo("error: the database schema is not at head; run "
                                   "'connector db upgrade' (migrations_pending)", err=True)
                        sys.exit(1)
                    migrations.upgrade(db.engine())
            app.extensions["connector.cli_checked"] = True
        return app


def command(fn):
    """Run inside the app context and a transaction; translate domain errors."""
    @functools.wraps(fn)
    @click.pass_obj
    def run(state: CLIState, *args, **kwargs):
        try:
            with state.ready_app().app_context():
                with db.transaction() as session:
                    return fn(session, *args, **kwargs)
        except ConnectorError as err:
            click.echo(f"error: {err.message} ({err.code})", err=True)
            sys.exit(1)
    return run


def emit(data: Any, as_json: bool, columns: list[str] | None = None) -> None:
    """Print JSON, or a plain table of ``columns`` for a list of dicts."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        click.echo("(none)")
        return
    columns = columns or list(rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """connector: organizations, members and every way people join them."""
    ctx.obj = CLIState()


# -- database and server ----------------------------------------------------------------------

@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(state: CLIState) -> None:
    """Apply every pending migration."""
    with state.app.app_context():
        migrations.upgrade(db.engine())
        click.echo("database at " + ", ".join(sorted(migrations.current_heads(db.engine()))))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.pass_obj
def serve(state: CLIState, host: str, port: int) -> None:
    """Run the app (embedded default: SQLite in the instance folder, jobs in-process)."""
    app = state.app
    with app.app_context():
        migrations.upgrade(db.engine())
        from . import background
        background.start_in_process(app)
    click.echo(f"connector running at http://{host}:{port}/  (database: "
               f"{db.database_url(app).split('@')[-1]})")
    from werkzeug.serving import run_simple
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("worker")
@click.option("--once", is_flag=True, help="Run each loop's pending work once, then exit.")
@click.pass_obj
def worker(state: CLIState, once: bool) -> None:
    """Deliver mail and webhooks and run background jobs (every loop in background.LOOPS)."""
    import threading
    import time

    from . import background
    app = state.ready_app()
    if once:
        for run_once in background.ONCE:
            run_once(app)
        return
    stop = threading.Event()
    threads = [threading.Thread(target=loop, args=(app, stop), daemon=True)
               for loop in background.LOOPS]
    for t in threads:
        t.start()
    click.echo(f"worker running {len(threads)} loop(s); Ctrl-C stops")
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop.set()


# -- organizations ----------------------------------------------------------------------------

ORG_COLUMNS = ["account", "name", "parent", "depth", "seat_limit", "created_at"]


@main.group("org")
def org_group() -> None:
    """Organizations."""


@org_group.command("create")
@click.argument("account")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--parent", "parent_account")
@click.option("--owner-email")
@click.option("--seat-limit", type=int)
@json_option
@command
def org_create(session, account, name, description, parent_account, owner_email, seat_limit,
               as_json):
    """Create an organization; --owner-email becomes its owner."""
    parent = orgs.require_org(session, parent_account) if parent_account else None
    org = orgs.create_org(session, account, name, description=description, parent=parent,
                          owner_email=owner_email, seat_limit=seat_limit, actor=OPERATOR)
    emit(s.org(org), as_json, ORG_COLUMNS)


@org_group.command("list")
@json_option
@command
def org_list(session, as_json):
    """List organizations (tree order)."""
    emit([s.org(o) for o in orgs.list_orgs(session, limit=100_000)], as_json, ORG_COLUMNS)


@org_group.command("search")
@click.option("--account-contains", required=True)
@json_option
@command
def org_search(session, account_contains, as_json):
    """Organizations whose account contains a string."""
    emit([s.org(o) for o in orgs.list_orgs(session, account_contains=account_contains)],
         as_json, ORG_COLUMNS)


@org_group.command("show")
@click.argument("account")
@json_option
@command
def org_show(session, account, as_json):
    """One organization with its seats and sub-organizations."""
    org = orgs.require_org(session, account)
    out = s.org(org)
    out["seats_used"] = orgs.seats_used(session, org)
    out["sub_organizations"] = [o.account for o in orgs.subtree(session, org) if o.id != org.id]
    if as_json:
        emit(out, True)
    else:
        for k, v in out.items():
            click.echo(f"{k + ':':20} {json.dumps(v) if isinstance(v, (dict, list)) else v}")


@org_group.command("move")
@click.argument("account")
@click.option("--parent", "parent_account", required=True)
@json_option
@command
def org_move(session, account, parent_account, as_json):
    """Move a sub-organization (and everything beneath it) under another parent."""
    org = orgs.move_org(session, orgs.require_org(session, account),
                        orgs.require_org(session, parent_account), actor=OPERATOR)
    emit(s.org(org), as_json, ORG_COLUMNS)


@org_group.command("delete")
@click.argument("account")
@click.option("--cascade", is_flag=True, help="Also delete every sub-organization.")
@json_option
@command
def org_delete(session, account, cascade, as_json):
    """Delete an organization; its account stays reserved."""
    gone = orgs.delete_org(session, orgs.require_org(session, account), actor=OPERATOR,
                           cascade=cascade)
    emit({"deleted": gone}, True) if as_json else click.echo("deleted " + ", ".join(gone))


# -- members ----------------------------------------------------------------------------------

MEMBER_COLUMNS = ["user_id", "email", "username", "role", "status", "source"]


@main.group("member")
def member_group() -> None:
    """Members of an organization."""


@member_group.command("list")
@click.argument("account")
@click.option("--role")
@click.option("--status")
@click.option("--search", "q")
@json_option
@command
def member_list(session, account, role, status, q, as_json):
    """List members."""
    org = orgs.require_org(session, account)
    out, after = [], 0
    while True:
        page = members.list_members(session, org, role=role, status=status, q=q, after=after,
                                    limit=1000)
        out += [s.member(m) for m in page]
        if len(page) < 1000:
            break
        after = page[-1].user_id
    emit(out, as_json, MEMBER_COLUMNS)


@member_group.command("add")
@click.argument("account")
@click.argument("user")
@click.option("--role")
@json_option
@command
def member_add(session, account, user, role, as_json):
    """Add USER (an email, username or user id; a new email creates the account)."""
    org = orgs.require_org(session, account)
    existing = members.find_user(session, user)
    kwargs = {"user_id": existing.id} if existing else (
        {"email": user} if "@" in user else {"username": user})
    result = members.add_member(session, org, actor=OPERATOR, role=role, **kwargs)
    out = s.member(members.require_member(session, org, result.user_id))
    out["outcome"] = result.outcome.value
    emit(out, as_json, ["outcome"] + MEMBER_COLUMNS)


def _require_user_id(session, user: str) -> int:
    found = members.find_user(session, user)
    if found is None:
        from .errors import NotFound
        raise NotFound(f"No user {user!r}.", code="user_not_found")
    return found.id


@member_group.command("remove")
@click.argument("account")
@click.argument("user")
@command
def member_remove(session, account, user):
    """Remove USER from the organization."""
    pipeline.remove_member(session, orgs.require_org(session, account),
                           _require_user_id(session, user), actor=OPERATOR)
    click.echo(f"removed {user} from {account}")


@member_group.command("set-role")
@click.argument("account")
@click.argument("user")
@click.argument("role")
@json_option
@command
def member_set_role(session, account, user, role, as_json):
    """Change USER's role (owner, admin, staff, member)."""
    org = orgs.require_org(session, account)
    uid = _require_user_id(session, user)
    pipeline.set_role(session, org, uid, role, actor=OPERATOR)
    emit(s.member(members.require_member(session, org, uid)), as_json, MEMBER_COLUMNS)


@member_group.command("transfer-ownership")
@click.argument("account")
@click.argument("user")
@command
def member_transfer(session, account, user):
    """Make USER the owner; previous owners become admins."""
    pipeline.transfer_ownership(session, orgs.require_org(session, account),
                                _require_user_id(session, user), actor=OPERATOR)
    click.echo(f"{user} now owns {account}")


# -- API keys ---------------------------------------------------------------------------------

@main.group("api-key")
def api_key_group() -> None:
    """Organization API keys for /api/v1."""


@api_key_group.command("create")
@click.argument("account")
@click.option("--name", required=True)
@click.option("--permission", "permissions", multiple=True,
              help="Repeat for each permission; 'all' for every non-owner permission.")
@command
def api_key_create(session, account, name, permissions):
    """Create a key; it is printed once, alone on the last line."""
    from .roles import OWNER_ONLY, PERMISSIONS
    perms = sorted(set(PERMISSIONS) - OWNER_ONLY) if "all" in permissions else list(permissions)
    cred, secret = credentials.create(session, orgs.require_org(session, account),
                                      CredentialKind.API_KEY, name=name, permissions=perms,
                                      actor=OPERATOR)
    click.echo(f"API key {cred.id} ({name}) for {account}: {', '.join(cred.permissions)}")
    click.echo("Copy it now: it will not be shown again.")
    click.echo(secret)


@api_key_group.command("list")
@click.argument("account")
@json_option
@command
def api_key_list(session, account, as_json):
    """List keys (never their secrets)."""
    keys = credentials.list_credentials(session, orgs.require_org(session, account),
                                        CredentialKind.API_KEY)
    emit([s.credential(c) for c in keys], as_json,
         ["id", "name", "hint", "created_at", "last_used_at", "revoked_at"])


@api_key_group.command("revoke")
@click.argument("account")
@click.argument("key_id", type=int)
@command
def api_key_revoke(session, account, key_id):
    """Revoke a key."""
    credentials.revoke(session, orgs.require_org(session, account), CredentialKind.API_KEY,
                       key_id, actor=OPERATOR)
    click.echo(f"revoked API key {key_id}")


# Feature commands register here, explicitly (no import-scanning registry).
def _register_features() -> None:
    from .invites.cli import invite_code_group, invite_group, webhook_group
    main.add_command(invite_code_group)
    main.add_command(invite_group)
    main.add_command(webhook_group)
    from .scim_cli import scim_group, scim_token_group
    main.add_command(scim_token_group)
    main.add_command(scim_group)
    from .imports.cli import accounts_group, import_group
    main.add_command(import_group)
    main.add_command(accounts_group)
    from .ldap.cli import ldap_group
    main.add_command(ldap_group)
    from .sso.cli import domain_group, sso_group
    main.add_command(sso_group)
    main.add_command(domain_group)
    pass


_register_features()
