"""LDAP directory sync benchmark: full and incremental sync of N entries from a real slapd,
against the raw paged search of the same entries, each phase in its own process so peak
memory (ru_maxrss) is per phase.

    /work/venv/bin/python bench/ldap_bench.py --sizes 10000 100000 [--database-url URL]

Phases per size (one slapd loaded with slapadd, one fresh database):
  raw          paged search alone (page 1000), bytes decoded, nothing else
  full-initial full sync into an empty organization (every entry creates a user)
  full-repeat  full sync again (every entry unchanged; the deprovisioning check runs)
  incremental  1% of entries modified, then an incremental sync (modifyTimestamp >= watermark)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(args) -> dict:
    """Run one phase in this process and return its measurements."""
    from connector import create_app, db, migrations, orgs
    from connector.identity import Actor
    from connector.ldap import sources, sync
    from providers import ldap as directory
    from tests import ldap_server as L

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench",
                      "JOBS_IN_PROCESS": False, "LOG_LEVEL": "WARNING",
                      "LDAP_MAX_DEACTIVATE_PERCENT": 100},
                     instance_path=os.path.join(args.workdir, "instance"))
    cfg = dict(urls=[args.url], bind_dn=L.READER_DN, base_dn=L.BULK_BASE, page_size=1000,
               interval_minutes=0)
    base_rss = _rss_mb()
    t0 = time.perf_counter()
    if args.phase == "raw":
        conn = directory.connect(directory.DirectoryConfig(
            urls=(args.url,), base_dn=L.BULK_BASE, bind_dn=L.READER_DN, password=L.READER_PW,
            page_size=1000))
        amap = directory.DirectoryConfig(urls=(args.url,), base_dn="x").attribute_map()
        n = 0
        for _dn, raw in directory.paged_search(conn, L.BULK_BASE, "(objectClass=inetOrgPerson)",
                                               amap.attributes(), page_size=1000):
            n += 1
        out = {"read": n}
    else:
        with app.app_context():
            if args.phase == "full-initial":
                migrations.upgrade(db.engine())
                with db.transaction() as s:
                    org = orgs.create_org(s, "bench", "Bench", actor=Actor.operator())
                    sources.add_source(s, org, {"name": "bench", **cfg}, actor=Actor.operator(),
                                       password=L.READER_PW)
            with db.transaction() as s:
                src = sources.require_source(s, orgs.require_org(s, "bench"), "bench")
                run_id = sync.queue_run(s, src, full=args.phase != "incremental",
                                        actor=Actor.operator()).id
            run = sync.execute(run_id)
            if run.status not in ("succeeded",):
                raise SystemExit(f"run failed: {run.status} {run.message}")
            out = dict(run.counts)
    seconds = time.perf_counter() - t0
    n = out["read"]
    return {"phase": args.phase, "seconds": round(seconds, 2),
            "entries_per_s": round(n / seconds) if seconds else None,
            "peak_rss_mb": round(_rss_mb(), 1), "rss_after_imports_mb": round(base_rss, 1),
            "counts": out}


def _modify(server, n: int, share: float = 0.01) -> int:
    from ldap3 import MODIFY_REPLACE, Connection, Server

    from tests import ldap_server as L
    conn = Connection(Server(server.host, port=server.port), L.ADMIN_DN, L.ADMIN_PW,
                      auto_bind=True)
    picked = random.Random(1).sample(range(n), max(1, int(n * share)))
    for i in picked:
        conn.modify(f"uid=bulk{i:06d},{L.BULK_BASE}",
                    {"givenName": [(MODIFY_REPLACE, [f"Changed{i}"])]})
    return len(picked)


def run_size(n: int, database_url: str | None) -> list[dict]:
    from tests import ldap_server as L
    workdir = tempfile.mkdtemp(prefix="ldap-bench-")
    t0 = time.perf_counter()
    server = L.start(bulk=n, workdir=os.path.join(workdir, "slapd"))
    load_s = time.perf_counter() - t0
    url = database_url or "sqlite:///" + os.path.join(workdir, "bench.db")
    results = []
    try:
        for name in ("raw", "full-initial", "full-repeat", "incremental"):
            if name == "incremental":
                time.sleep(1.1)  # a new modifyTimestamp second, after the last run's watermark
                _modify(server, n)
            cmd = [sys.executable, __file__, "--phase", name, "--url", server.url,
                   "--database-url", url, "--workdir", workdir]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise SystemExit(done.stderr[-2000:])
            r = json.loads(done.stdout.strip().splitlines()[-1])
            r["size"] = n
            results.append(r)
            print(json.dumps(r), flush=True)
    finally:
        server.stop()
    print(json.dumps({"size": n, "slapadd_and_start_s": round(load_s, 1)}), flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="*", default=[10_000])
    p.add_argument("--database-url")
    p.add_argument("--phase")
    p.add_argument("--url")
    p.add_argument("--workdir")
    args = p.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return
    for n in args.sizes:
        run_size(n, args.database_url)


if __name__ == "__main__":
    main()
