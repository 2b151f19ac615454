"""Email delivery through a real SMTP server (aiosmtpd) on loopback."""
from __future__ import annotations

import email
import os
from email import policy

from sqlalchemy import select

from connector import db, orgs
from connector.events import enqueue_email
from connector.identity import Actor
from connector.invites import invitations
from connector.invites.models import Invitation
from connector.models import OutboxMessage, User
from connector.outbox.queue import claim, mark_sent
from connector.outbox.worker import deliver_once


def _setup(app, factory, smtp_url: str | None, **config) -> None:
    app.config.update(SMTP_URL=smtp_url or "", OUTBOX_BACKOFF_SECONDS=0, **config)
    factory.org("acme", "Acme Corp", owner="boss@acme.test")


def _invite(factory, *emails: str, message: str = "") -> list[dict]:
    def run(session):
        org = orgs.require_org(session, "acme")
        boss = session.scalar(select(User).where(User.email == "boss@acme.test"))
        boss.display_name = "Bea Boss"
        return invitations.invite(session, org, list(emails), actor=Actor("user:1"),
                                  inviter=boss, message=message, role="staff")
    return factory.run(run)


def _rows(factory) -> list[OutboxMessage]:
    return factory.run(lambda s: list(s.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "email").order_by(OutboxMessage.id))))


def test_invitation_email_arrives_with_headers_links_and_both_parts(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)
    _invite(factory, "new@example.test", message="Welcome <b>aboard</b>")
    [row] = _rows(factory)
    accept_url = row.payload["context"]["accept_url"]
    assert deliver_once(app) == 1
    [(sender, rcpts, raw)] = smtp_server.handler.messages
    assert rcpts == ["new@example.test"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Bea Boss invited you to join Acme Corp"
    assert msg["Message-ID"] == row.payload["message_id"]
    assert msg["Reply-To"] == "boss@acme.test"
    assert msg["Date"] and msg["From"] == app.config["MAIL_FROM"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert accept_url in text and accept_url in html
    assert "Welcome <b>aboard</b>" in text            # plain text is not escaped
    assert "Welcome &lt;b&gt;aboard&lt;/b&gt;" in html  # HTML is
    [row] = _rows(factory)
    assert row.status == "sent" and row.sent_at is not None
    # The single-use link does not stay readable in the outbox once delivered.
    assert accept_url not in str(row.payload)


def test_a_batch_goes_over_one_smtp_connection(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)
    _invite(factory, *[f"p{i}@example.test" for i in range(25)])
    assert deliver_once(app) == 25
    assert len(smtp_server.handler.messages) == 25
    assert len(smtp_server.handler.sessions) == 1


def test_smtp_down_then_up_loses_nothing_and_sends_nothing_twice(app, factory, smtp_port):
    _setup(app, factory, smtp_port.url)
    _invite(factory, "a@example.test", "b@example.test", "c@example.test")
    deliver_once(app)  # nobody listens on the port
    rows = _rows(factory)
    assert [r.status for r in rows] == ["pending"] * 3
    assert all("cannot connect" in r.last_error for r in rows)
    # Only the message that met the closed port used an attempt; the rest went back untried.
    assert sorted(r.attempts for r in rows) == [0, 0, 1]
    smtp_port.start()
    assert deliver_once(app) == 3
    assert deliver_once(app) == 0
    got = sorted(r[0] for _, r, _ in smtp_port.handler.messages)
    assert got == ["a@example.test", "b@example.test", "c@example.test"]
    assert [r.status for r in _rows(factory)] == ["sent"] * 3


def test_4xx_is_retried_with_backoff_and_5xx_fails_with_the_reason(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)
    app.config["OUTBOX_BACKOFF_SECONDS"] = 3600
    smtp_server.handler.rcpt_answers = {"busy@example.test": "451 4.3.0 Try again later",
                                        "gone@example.test": "550 5.1.1 No such user"}
    _invite(factory, "busy@example.test", "gone@example.test", "ok@example.test")
    deliver_once(app)
    by_to = {r.payload["to"]: r for r in _rows(factory)}
    assert by_to["ok@example.test"].status == "sent"
    busy = by_to["busy@example.test"]
    assert busy.status == "pending" and busy.attempts == 1 and "451" in busy.last_error
    assert busy.next_attempt_at > busy.created_at  # waits for the backoff
    gone = by_to["gone@example.test"]
    assert gone.status == "failed" and "550 5.1.1 No such user" in gone.last_error
    inv = factory.run(lambda s: s.scalar(select(Invitation).where(
        Invitation.email == "gone@example.test")))
    assert inv.status == "bounced" and "550" in inv.last_error
    # The server recovers; once the backoff is over the message goes, exactly once.
    smtp_server.handler.rcpt_answers = {}
    assert deliver_once(app) == 0  # not due yet
    app.config["OUTBOX_BACKOFF_SECONDS"] = 0
    factory.run(lambda s: s.get(OutboxMessage, busy.id).__setattr__(
        "next_attempt_at", busy.created_at))
    assert deliver_once(app) == 1
    assert [r[0] for _, r, _ in smtp_server.handler.messages].count("busy@example.test") == 1


def test_embedded_default_writes_eml_files_in_the_instance_outbox(app, factory):
    _setup(app, factory, None)
    _invite(factory, "new@example.test")
    deliver_once(app)
    folder = os.path.join(app.instance_path, "outbox")
    [name] = os.listdir(folder)
    with open(os.path.join(folder, name), "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=policy.default)
    assert msg["To"] == "new@example.test" and "Acme Corp" in msg["Subject"]
    assert [r.status for r in _rows(factory)] == ["sent"]


def test_password_reset_template_renders_from_enqueue_email(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)
    factory.run(lambda s: enqueue_email(s, None, "password_reset", to="u@example.test",
                                        template="password_reset",
                                        context={"reset_url": "http://x/reset/abc",
                                                 "user_name": "Uma"}))
    deliver_once(app)
    [(_, _, raw)] = smtp_server.handler.messages
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Reset your password"
    assert "http://x/reset/abc" in msg.get_body(("plain",)).get_content()
    assert "Uma" in msg.get_body(("html",)).get_content()


def test_unknown_template_fails_permanently(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)
    factory.run(lambda s: enqueue_email(s, None, "x", to="u@example.test", template="nope",
                                        context={}))
    deliver_once(app)
    [row] = _rows(factory)
    assert row.status == "failed" and "nope" in row.last_error
    assert smtp_server.handler.messages == []


def test_two_workers_never_claim_the_same_row_and_an_expired_lease_is_recovered(app, factory):
    _setup(app, factory, None)
    _invite(factory, "a@example.test")
    with app.app_context():
        with db.transaction() as s:
            [first] = claim(s, "email", 10, lease_seconds=300)
        s2 = db.new_session()
        with s2.begin():
            assert claim(s2, "email", 10, lease_seconds=300) == []  # leased to worker 1
            # Worker 1 died: its lease runs out and worker 2 takes the row over.
            s2.get(OutboxMessage, first.id).next_attempt_at = first_time(s2, first.id)
        with s2.begin():
            [second] = claim(s2, "email", 10, lease_seconds=300)
        assert second.id == first.id and second.attempts == first.attempts + 1
        with db.transaction() as s:
            assert mark_sent(s, first) is False   # the dead worker's late answer is ignored
            assert mark_sent(s, second) is True
        s2.close()


def first_time(session, msg_id: int):
    return session.get(OutboxMessage, msg_id).created_at


def test_work_that_rolls_back_queues_no_email(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)

    def invite_then_fail(session):
        invitations.invite(session, orgs.require_org(session, "acme"), ["a@example.test"],
                           actor=Actor("cli"))
        raise RuntimeError("the request failed after inviting")
    try:
        factory.run(invite_then_fail)
    except RuntimeError:
        pass
    assert _rows(factory) == [] and deliver_once(app) == 0
    assert smtp_server.handler.messages == []


def test_connector_worker_once_delivers_the_queue(app, factory, smtp_server, monkeypatch):
    from click.testing import CliRunner

    from connector import background, cli
    monkeypatch.setattr(cli.CLIState, "app", property(lambda self: app))
    assert deliver_once in background.ONCE  # registered by create_app's import of the worker
    monkeypatch.setattr(background, "ONCE", [deliver_once])  # other features' loops aside
    _setup(app, factory, smtp_server.url)
    _invite(factory, "a@example.test", "b@example.test")
    r = CliRunner().invoke(cli.main, ["worker", "--once"])
    assert r.exit_code == 0, r.output
    assert len(smtp_server.handler.messages) == 2


def test_a_message_that_cannot_be_built_fails_alone(app, factory, smtp_server):
    _setup(app, factory, smtp_server.url)
    factory.run(lambda s: enqueue_email(s, None, "x", to="bad\r\nBcc: victim@example.test",
                                        template="password_reset", context={"reset_url": "u"}))
    factory.run(lambda s: enqueue_email(s, None, "x", to="ok@example.test",
                                        template="password_reset", context={"reset_url": "u"}))
    deliver_once(app)
    bad, ok = _rows(factory)
    assert bad.status == "failed" and "cannot build" in bad.last_error
    assert ok.status == "sent"
    assert [r for _, r, _ in smtp_server.handler.messages] == [["ok@example.test"]]
