"""Benchmarks for issue 5: queueing 10,000 invitations, and email delivery rate to a local SMTP
server (aiosmtpd on loopback) with one connection per batch versus one per message.

Run:  /work/venv/bin/python bench/invites_bench.py [--invites 10000] [--mails 2000]
      CONNECTOR_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<db> ... for PostgreSQL
Results are recorded in bench/invites_results.md."""
from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import func, select, text  # noqa: E402

from connector import create_app, db, migrations, orgs  # noqa: E402
from connector.db import utcnow  # noqa: E402
from connector.identity import Actor  # noqa: E402
from connector.invites import invitations  # noqa: E402
from connector.invites.models import Invitation  # noqa: E402
from connector.models import AuditEvent, OutboxMessage  # noqa: E402
from connector.outbox.worker import deliver_once  # noqa: E402

SERVER = r"""
import asyncio, signal, sys, threading
from aiosmtpd.controller import Controller
class Sink:
    count, sessions = 0, set()
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        Sink.sessions.add(id(session))
        return "250 OK"
ctl = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
ctl.start()
print("ready", flush=True)
sys.stdin.readline()  # the benchmark closes stdin when done
ctl.stop()
print(Sink.count, len(Sink.sessions), flush=True)
"""


class SMTPServer:
    """aiosmtpd in its own process, so client and server do not share one GIL."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> tuple[int, int]:
        out, _ = self.proc.communicate("\n", timeout=60)
        count, sessions = out.split()
        return int(count), int(sessions)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def bench_queue(app, n: int) -> dict:
    addresses = [f"person{i}@example.test" for i in range(n)]
    with app.app_context():
        with db.transaction() as s:
            orgs.create_org(s, "bench", "Bench Org", actor=Actor("cli"))
        t0 = time.perf_counter()
        with db.transaction() as s:
            res = invitations.invite(s, orgs.require_org(s, "bench"), addresses,
                                     actor=Actor("cli"), role="member", message="Welcome!")
        elapsed = time.perf_counter() - t0
        s = db.session()
        rows = {"invitations": count(s, Invitation), "outbox_messages": count(
            s, OutboxMessage, OutboxMessage.topic == "invitation"),
            "audit_events": count(s, AuditEvent, AuditEvent.action == "invitation.created")}
    assert sum(r["status"] == "invited" for r in res) == n
    return {"n": n, "seconds": elapsed, "per_second": n / elapsed, "rows": rows}


def bench_delivery(app, n: int, batch: int) -> dict:
    port = free_port()
    server = SMTPServer(port)
    try:
        app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}", OUTBOX_BATCH_SIZE=batch)
        with app.app_context():
            with db.transaction() as s:  # make exactly n messages due, oldest first
                s.execute(text("UPDATE outbox_messages SET status='sent' WHERE kind='email'"))
                ids = list(s.scalars(select(OutboxMessage.id).where(
                    OutboxMessage.kind == "email").order_by(OutboxMessage.id).limit(n)))
                s.execute(OutboxMessage.__table__.update().where(OutboxMessage.id.in_(ids))
                          .values(status="pending", attempts=0, next_attempt_at=utcnow()))
        t0 = time.perf_counter()
        handled = deliver_once(app)
        elapsed = time.perf_counter() - t0
    finally:
        received, connections = server.stop()
    assert handled == n and received == n, (handled, received)
    return {"n": n, "batch": batch, "seconds": elapsed, "per_second": n / elapsed,
            "connections": connections}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invites", type=int, default=10_000)
    ap.add_argument("--mails", type=int, default=2_000)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="invites-bench-")
    url = os.environ.get("CONNECTOR_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False, "JOBS_IN_PROCESS": False,
                      "BASE_URL": "http://localhost"}, instance_path=tmp)
    with app.app_context():
        migrations.upgrade(db.engine())
    print(f"database: {url.split('@')[-1]}")
    q = bench_queue(app, args.invites)
    print(f"queue {q['n']} invitations: {q['seconds']:.2f} s ({q['per_second']:.0f}/s), "
          f"rows {q['rows']}")
    for batch in (100, 1):
        n = args.mails if batch > 1 else max(args.mails // 4, 1)
        d = bench_delivery(app, n, batch)
        print(f"deliver {d['n']} emails, batch {d['batch']}: {d['seconds']:.2f} s "
              f"({d['per_second']:.0f}/s) over {d['connections']} SMTP connection(s)")


if __name__ == "__main__":
    main()
