"""Console page latency (issue 7) with a large organization: how long the pages an admin opens
most take to render when the organization has many members and audit events.

    /work/venv/bin/python bench/console_bench.py                       # 20k members, SQLite + PG
    /work/venv/bin/python bench/console_bench.py --members 100000 --db postgresql

Members arrive through the pipeline in batches of 1,000 (as a CSV import would), which also
writes their audit events. Each page is requested through Flask's test client (no network), once
to warm up and then --repeat times; the median and the worst are reported."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
PG = "postgresql://postgres@127.0.0.1:5432/"
PAGES = ["/orgs/acme", "/orgs/acme/members", "/orgs/acme/members?q=person1234",
         "/orgs/acme/members?role=member&source=csv&after=10000", "/orgs/acme/audit",
         "/orgs/acme/audit?action=member.joined&since=2000-01-01",
         "/orgs/acme/audit.csv?action=user.created", "/orgs/acme/suborganizations"]


def fresh_db(kind: str, tmp: str) -> str:
    if kind == "sqlite":
        return "sqlite:///" + os.path.join(tmp, "console.db")
    name = f"bench_console_{os.getpid()}"
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    return PG + name


def run(kind: str, members: int, repeat: int) -> list[tuple[str, float, float, int]]:
    from connector import create_app, db, migrations, orgs, pipeline
    from connector.identity import Actor, Identity, Source
    from connector.security import hash_password
    tmp = tempfile.mkdtemp()
    app = create_app({"DATABASE_URL": fresh_db(kind, tmp), "SECRET_KEY": "bench",
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False},
                     instance_path=os.path.join(tmp, "instance"))
    op = Actor.operator()
    with app.app_context():
        migrations.upgrade(db.engine())
        s = db.new_session()
        with s.begin():
            org = orgs.create_org(s, "acme", "Acme", actor=op)
            pipeline.provision(s, org, [Identity(email="admin@acme.test", role="admin",
                                                 password_hash=hash_password("bench password"))],
                               source=Source.MANUAL, actor=op)
        t0 = time.perf_counter()
        for start in range(0, members, 1000):
            with s.begin():
                org = orgs.require_org(s, "acme")
                pipeline.provision(s, org, [Identity(email=f"person{i}@acme.test",
                                                     given_name="Person", family_name=str(i))
                                            for i in range(start, min(start + 1000, members))],
                                   source=Source.CSV, actor=op)
        print(f"  {kind}: {members:,} members provisioned in {time.perf_counter() - t0:.1f} s",
              flush=True)
        s.close()
    client = app.test_client()
    client.post("/signin", data={"login": "admin@acme.test", "password": "bench password"})
    out = []
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        resp.get_data()
        resp.close()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            resp = client.get(path)
            resp.get_data()  # a streamed body (audit.csv) is produced while it is read
            times.append((time.perf_counter() - t) * 1000)
            resp.close()
        out.append((path, statistics.median(times), max(times), len(resp.get_data())))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    a = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if a.db == "both" else [a.db]
    for kind in kinds:
        rows = run(kind, a.members, a.repeat)
        print(f"\n{kind}, {a.members:,} members (+1 admin), median / worst of {a.repeat}:\n")
        print("| page | median ms | worst ms | bytes |\n| --- | ---: | ---: | ---: |")
        for path, med, worst, size in rows:
            print(f"| `{path}` | {med:.0f} | {worst:.0f} | {size:,} |")


if __name__ == "__main__":
    main()
