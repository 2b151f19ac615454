"""``connector invite-code``, ``connector invite`` and ``connector webhook`` commands."""
from __future__ import annotations

import click

from .. import orgs
from ..cli import OPERATOR, command, emit, json_option
from ..outbox import webhooks
from . import codes, invitations
from . import serialize as s

CODE_COLUMNS = ["id", "label", "hint", "status", "role", "uses", "max_uses", "expires_at"]
INVITE_COLUMNS = ["id", "email", "status", "role", "sent_count", "expires_at", "last_error"]


@click.group("invite-code")
def invite_code_group() -> None:
    """Invite codes people type to join."""


@invite_code_group.command("create")
@click.argument("account")
@click.option("--role")
@click.option("--sub-organization")
@click.option("--group", "groups", multiple=True, help="Repeat for each group.")
@click.option("--allowed-domain")
@click.option("--expires-days", type=int)
@click.option("--max-uses", type=int)
@click.option("--label", default="")
@json_option
@command
def code_create(session, account, role, sub_organization, groups, allowed_domain,
                expires_days, max_uses, label, as_json):
    """Create a code; it is printed once, alone on the last line."""
    cred, code = codes.create_code(session, orgs.require_org(session, account), actor=OPERATOR,
                                   role=role, sub_organization=sub_organization,
                                   groups=list(groups), allowed_domain=allowed_domain,
                                   expires_days=expires_days, max_uses=max_uses, label=label)
    if as_json:
        emit(s.code(cred, code), True)
        return
    click.echo(f"invite code {cred.id} for {account}, expires {cred.expires_at:%Y-%m-%d}, "
               f"{'unlimited uses' if max_uses is None else f'{max_uses} use(s)'}")
    click.echo(code)


@invite_code_group.command("list")
@click.argument("account")
@json_option
@command
def code_list(session, account, as_json):
    """List codes with their use counts (never the codes themselves)."""
    emit([s.code(c) for c in codes.list_codes(session, orgs.require_org(session, account))],
         as_json, CODE_COLUMNS)


@invite_code_group.command("revoke")
@click.argument("account")
@click.argument("code_id", type=int)
@command
def code_revoke(session, account, code_id):
    """Revoke a code."""
    org = orgs.require_org(session, account)
    codes.require_code(session, org, code_id)
    codes.revoke_code(session, org, code_id, actor=OPERATOR)
    click.echo(f"revoked invite code {code_id}")


@invite_code_group.command("regenerate")
@click.argument("account")
@click.argument("code_id", type=int)
@json_option
@command
def code_regenerate(session, account, code_id, as_json):
    """Revoke a code and print a new one with the same settings."""
    cred, code = codes.regenerate_code(session, orgs.require_org(session, account), code_id,
                                       actor=OPERATOR)
    if as_json:
        emit(s.code(cred, code), True)
        return
    click.echo(f"invite code {cred.id} replaces {code_id}")
    click.echo(code)


@click.group("invite")
def invite_group() -> None:
    """Email invitations."""


@invite_group.command("send")
@click.argument("account")
@click.argument("emails", nargs=-1, required=True)
@click.option("--role")
@click.option("--sub-organization")
@click.option("--group", "groups", multiple=True)
@click.option("--message", default="")
@click.option("--expires-days", type=int)
@json_option
@command
def invite_send(session, account, emails, role, sub_organization, groups, message,
                expires_days, as_json):
    """Invite EMAIL... (or '-' to read a pasted list from stdin)."""
    addresses = list(emails)
    if addresses == ["-"]:
        addresses = invitations.parse_addresses(click.get_text_stream("stdin").read())
    results = invitations.invite(session, orgs.require_org(session, account), addresses,
                                 actor=OPERATOR, role=role, sub_organization=sub_organization,
                                 groups=list(groups), message=message, expires_days=expires_days)
    emit(results, as_json, ["email", "status", "invitation_id"])


@invite_group.command("list")
@click.argument("account")
@click.option("--status", type=click.Choice(["pending", "accepted", "expired", "revoked",
                                             "bounced"]))
@json_option
@command
def invite_list(session, account, status, as_json):
    """List invitations."""
    org = orgs.require_org(session, account)
    out, after = [], 0
    while True:
        page = invitations.list_invitations(session, org, status=status, after=after, limit=1000)
        out += [s.invitation(i) for i in page]
        if len(page) < 1000:
            break
        after = page[-1].id
    emit(out, as_json, INVITE_COLUMNS)


@invite_group.command("resend")
@click.argument("account")
@click.argument("invitation_id", type=int)
@json_option
@command
def invite_resend(session, account, invitation_id, as_json):
    """Send a fresh link; the old one stops working."""
    inv = invitations.resend(session, orgs.require_org(session, account), invitation_id,
                             actor=OPERATOR)
    emit(s.invitation(inv), as_json, INVITE_COLUMNS)


@invite_group.command("revoke")
@click.argument("account")
@click.argument("invitation_id", type=int)
@command
def invite_revoke(session, account, invitation_id):
    """Revoke an invitation."""
    invitations.revoke(session, orgs.require_org(session, account), invitation_id,
                       actor=OPERATOR)
    click.echo(f"revoked invitation {invitation_id}")


@click.group("webhook")
def webhook_group() -> None:
    """Webhook endpoints and their delivery log."""


@webhook_group.command("add")
@click.argument("account")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="Repeat; none means every event.")
@json_option
@command
def webhook_add(session, account, url, events, as_json):
    """Register URL; its signing secret is printed once, alone on the last line."""
    ep = webhooks.add_endpoint(session, orgs.require_org(session, account), url, actor=OPERATOR,
                               events=list(events))
    if as_json:
        emit(s.endpoint(ep, with_secret=True), True)
        return
    click.echo(f"webhook {ep.id} -> {ep.url} ({', '.join(ep.events) or 'all events'})")
    click.echo(ep.secret)


@webhook_group.command("list")
@click.argument("account")
@json_option
@command
def webhook_list(session, account, as_json):
    """List endpoints."""
    emit([s.endpoint(e) for e in webhooks.list_endpoints(session, orgs.require_org(
        session, account))], as_json, ["id", "url", "events", "active", "created_at"])


@webhook_group.command("remove")
@click.argument("account")
@click.argument("webhook_id", type=int)
@command
def webhook_remove(session, account, webhook_id):
    """Remove an endpoint."""
    webhooks.remove_endpoint(session, orgs.require_org(session, account), webhook_id,
                             actor=OPERATOR)
    click.echo(f"removed webhook {webhook_id}")


@webhook_group.command("deliveries")
@click.argument("account")
@click.argument("webhook_id", type=int)
@click.option("--limit", default=50, show_default=True)
@json_option
@command
def webhook_deliveries(session, account, webhook_id, limit, as_json):
    """The endpoint's delivery attempts, newest first."""
    rows = webhooks.list_deliveries(session, orgs.require_org(session, account), webhook_id,
                                    limit=limit)
    emit([s.delivery(d, st) for d, st in rows], as_json,
         ["id", "event_type", "attempt", "status_code", "ok", "message_status", "error",
          "created_at"])


@webhook_group.command("redeliver")
@click.argument("account")
@click.argument("delivery_id", type=int)
@command
def webhook_redeliver(session, account, delivery_id):
    """Queue the event of a logged delivery again."""
    msg = webhooks.redeliver(session, orgs.require_org(session, account), delivery_id,
                             actor=OPERATOR)
    click.echo(f"queued again as outbox message {msg.id}")
