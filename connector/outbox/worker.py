"""The outbox delivery loop, registered in connector.background (``connector worker`` and the
embedded ``connector serve`` run it)."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from .. import background
from .mail import deliver_emails
from .webhooks import deliver_webhooks

log = logging.getLogger(__name__)


def deliver_once(app: Flask) -> int:
    """Deliver what is due now, batch after batch while batches come back full; returns rows
    handled. (A partial batch means the queue is drained, or the rest waits for a retry.)"""
    total = 0
    with app.app_context():
        size = int(app.config.get("OUTBOX_BATCH_SIZE", 100))
        more = True
        while more:
            mails, hooks = deliver_emails(size), deliver_webhooks(size)
            total += mails + hooks
            more = mails == size or hooks == size
    return total


def outbox_loop(app: Flask, stop: threading.Event) -> None:
    """Deliver until ``stop`` is set; sleep OUTBOX_POLL_SECONDS when nothing is due."""
    poll = float(app.config.get("OUTBOX_POLL_SECONDS", 2))
    while not stop.is_set():
        try:
            with app.app_context():
                n = deliver_emails() + deliver_webhooks()
        except Exception:  # a database hiccup must not kill the worker thread
            log.exception("outbox delivery pass failed")
            n = 0
        if n == 0:
            stop.wait(poll)


if outbox_loop not in background.LOOPS:
    background.LOOPS.append(outbox_loop)
    background.ONCE.append(deliver_once)
