"""Email: render outbox rows from templates and deliver them over SMTP (one connection per batch)
or, in the embedded default, into .eml files in the instance folder."""
from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy.orm import Session

from .. import db
from .queue import Claimed, claim, mark_failed, mark_retry, mark_sent, release

log = logging.getLogger(__name__)

# Context values that carry a secret (single-use links); scrubbed from the row once delivered so
# the outbox table does not keep working credentials.
SECRET_CONTEXT_KEYS = frozenset({"accept_url", "reset_url", "password", "temporary_password"})


class TemporaryFailure(Exception):
    """Connection trouble or a 4xx answer: try again later."""


class ConnectionFailure(TemporaryFailure):
    """The server cannot be reached or dropped us: no message of the batch can go now."""


class PermanentFailure(Exception):
    """A 5xx answer or a message that can never be built."""


def render_template(name: str, **ctx: Any) -> str:
    """Render with the app's Jinja environment but without Flask's context processors: they
    assume a request (the signed-in user), and a worker renders outside any request."""
    return current_app.jinja_env.get_template(name).render(**ctx)


def render(msg: Claimed) -> EmailMessage:
    """Build the MIME message from ``email/<template>.txt`` (first line ``Subject: ...``) and
    ``email/<template>.html`` if present."""
    try:
        return _build(msg)
    except PermanentFailure:
        raise
    except Exception as err:  # a bad address or context can never be sent: do not retry it
        raise PermanentFailure(f"cannot build the message: {type(err).__name__}: {err}") from None


def _build(msg: Claimed) -> EmailMessage:
    p = msg.payload
    ctx: dict[str, Any] = dict(p.get("context") or {})
    name = p.get("template") or msg.topic
    try:
        text = render_template(f"email/{name}.txt", **ctx)
    except TemplateNotFound:
        raise PermanentFailure(f"no email template {name!r}") from None
    subject = ctx.get("subject") or name.replace("_", " ").capitalize()
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        subject, text = first[len("subject:"):].strip(), rest.lstrip("\n")
    try:
        html = render_template(f"email/{name}.html", **ctx)
    except TemplateNotFound:
        html = None
    m = EmailMessage()
    m["From"] = current_app.config.get("MAIL_FROM") or "connector@localhost"
    m["To"] = p["to"]
    m["Subject"] = " ".join(str(subject).split())  # no line breaks from names in the subject
    # RFC 5322 §3.6.1 and §3.6.4: Date and Message-ID; the id is fixed when the row is written,
    # so a retried message keeps its id and receivers can drop a duplicate.
    m["Date"] = formatdate(usegmt=True)
    m["Message-ID"] = p.get("message_id") or f"<outbox-{msg.id}@connector>"
    if p.get("reply_to"):
        m["Reply-To"] = p["reply_to"]
    m.set_content(text)
    if html:
        m.add_alternative(html, subtype="html")
    return m


class SMTPTransport:
    """One SMTP connection for a whole batch (smtp://user:pass@host:port?starttls=1, smtps://)."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.parts = urlsplit(url)
        self.opts = {k: v[-1] for k, v in parse_qs(self.parts.query).items()}
        self.timeout = timeout
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        p = self.parts
        try:
            if p.scheme == "smtps":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(p.hostname or "localhost", p.port or 465,
                                                      timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(p.hostname or "localhost", p.port or 25, timeout=self.timeout)
                if self.opts.get("starttls", "0").lower() in ("1", "true", "yes"):
                    conn.starttls(context=ssl.create_default_context())
            if p.username:
                conn.login(unquote(p.username), unquote(p.password or ""))
        except smtplib.SMTPResponseException as err:
            # Refused greeting, STARTTLS or login (even 5xx, e.g. 535 bad credentials) is the
            # server's or the configuration's problem, not the message's: retry, never fail it.
            text = err.smtp_error.decode("utf-8", "replace") if isinstance(
                err.smtp_error, bytes) else str(err.smtp_error)
            raise ConnectionFailure(f"{p.hostname}:{p.port} refused the session: "
                                    f"{err.smtp_code} {text}") from None
        except (OSError, smtplib.SMTPException) as err:
            raise ConnectionFailure(f"cannot connect to {p.hostname}:{p.port}: {err}") from None
        return conn

    def send(self, message: EmailMessage, msg_id: int = 0) -> None:
        if self.conn is None:
            self.conn = self._connect()
        try:
            refused = self.conn.send_message(message)
        except smtplib.SMTPRecipientsRefused as err:
            # Our messages have one recipient: its answer is the message's answer.
            code, text = next(iter(err.recipients.values()))
            raise _classify(code, text) from None
        except smtplib.SMTPServerDisconnected as err:
            self.conn = None
            raise ConnectionFailure(f"server disconnected: {err}") from None
        except smtplib.SMTPResponseException as err:
            raise _classify(err.smtp_code, err.smtp_error) from None
        except (OSError, smtplib.SMTPException) as err:
            self.close()
            raise ConnectionFailure(str(err)) from None
        if refused:
            code, text = next(iter(refused.values()))
            raise _classify(code, text)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None


def _classify(code: int, text: bytes | str) -> Exception:
    """RFC 5321 §4.2.1: 4yz is a transient failure, 5yz a permanent one."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    reason = f"{code} {text}".strip()
    if 400 <= code < 500:
        return TemporaryFailure(reason)
    if code >= 500:
        return PermanentFailure(reason)
    return TemporaryFailure(reason)


class EmlTransport:
    """The embedded default: each message becomes a .eml file in <instance>/outbox/."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def send(self, message: EmailMessage, msg_id: int = 0) -> str:
        path = os.path.join(self.folder, f"{msg_id:08d}.eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(bytes(message))
        os.replace(tmp, path)  # atomic: a reader never sees half a message
        log.info("email to %s written to %s", message["To"], path)
        return path

    def close(self) -> None:
        pass


def transport():
    url = current_app.config.get("SMTP_URL") or ""
    if url:
        return SMTPTransport(url, float(current_app.config.get("SMTP_TIMEOUT_SECONDS", 15)))
    return EmlTransport(os.path.join(current_app.instance_path, "outbox"))


def _scrubbed(payload: dict) -> dict:
    ctx = payload.get("context") or {}
    if not SECRET_CONTEXT_KEYS & set(ctx):
        return payload
    return {**payload, "context": {k: ("[removed after delivery]" if k in SECRET_CONTEXT_KEYS
                                       else v) for k, v in ctx.items()}}


def deliver_emails(limit: int | None = None) -> int:
    """Claim and deliver one batch of due emails; returns how many rows were handled.

    Outcomes are written in small groups (OUTBOX_COMMIT_EVERY) rather than one transaction per
    message: if the process dies, at most that many delivered messages are sent again when
    their lease runs out; in the normal case nothing is sent twice."""
    cfg = current_app.config
    with db.transaction() as session:
        batch = claim(session, "email", limit or int(cfg.get("OUTBOX_BATCH_SIZE", 100)),
                      float(cfg.get("OUTBOX_LEASE_SECONDS", 300)))
    if not batch:
        return 0
    every = max(1, int(cfg.get("OUTBOX_COMMIT_EVERY", 10)))
    outcomes: list[Callable[[Session], object]] = []

    def flush() -> None:
        if outcomes:
            with db.transaction() as session:
                for outcome in outcomes:
                    outcome(session)
            outcomes.clear()

    out = transport()
    try:
        for i, msg in enumerate(batch):
            try:
                out.send(render(msg), msg.id)
            except ConnectionFailure as err:
                # The server is down: this message's attempt counts, the rest go back untried.
                rest = batch[i + 1:]
                outcomes.append(lambda s, m=msg, e=str(err), r=rest: (
                    mark_retry(s, m, e), release(s, r, e)))
                log.warning("SMTP unavailable, %d message(s) wait: %s", len(batch) - i, err)
                break
            except TemporaryFailure as err:
                outcomes.append(lambda s, m=msg, e=str(err): mark_retry(s, m, e))
            except PermanentFailure as err:
                outcomes.append(lambda s, m=msg, e=str(err): (mark_failed(s, m, e),
                                                              _bounced(s, m, e)))
            else:
                outcomes.append(lambda s, m=msg: mark_sent(s, m, _scrubbed(m.payload)))
            if len(outcomes) >= every:
                flush()
    finally:
        out.close()
        flush()
    return len(batch)


def _bounced(session, msg: Claimed, reason: str) -> None:
    """A permanently refused invitation shows as bounced, with the server's reason."""
    inv_id = (msg.payload.get("context") or {}).get("invitation_id")
    if msg.topic == "invitation" and inv_id:
        from ..invites.invitations import mark_bounced
        mark_bounced(session, msg.organization_id, int(inv_id), reason)
