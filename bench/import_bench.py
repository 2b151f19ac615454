"""CSV import benchmark (issue 6): the full import job vs a raw baseline, and account generation.

Each measurement runs in its own subprocess on a fresh database, so peak memory (ru_maxrss) is
that run's alone.

    .venv/bin/python bench/import_bench.py                  # 100k rows, SQLite + PostgreSQL
                                                             # (3 alternating runs a side)
    .venv/bin/python bench/import_bench.py --rows 1000000 --db sqlite --only full
    .venv/bin/python bench/import_bench.py --generate 1000   # generated accounts only

(``.venv`` is the test virtualenv ``bash .ci/test`` makes.)

The raw baseline is the floor the issue names: stdlib csv + an email regex + batched executemany
into the same tables (users, memberships) in one transaction. The full import adds what the job
does: reading the file twice (a check, then staging), duplicate detection in SQLite (in the
file's reader), staging rows, matching, policy, memberships, linked identities, two audit
events per account, per-row outcomes and progress, one transaction per 10,000 rows."""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
PG = "postgresql://postgres@127.0.0.1:5432/"
EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def write_csv(path: str, rows: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "external_id"])
        for i in range(rows):
            w.writerow([f"person{i}@example.org", f"First{i}", f"Last{i % 997}", f"X{i}"])


def fresh_db(kind: str, tmp: str, tag: str) -> str:
    if kind == "sqlite":
        return "sqlite:///" + os.path.join(tmp, f"{tag}.db")
    name = f"bench_{tag}_{os.getpid()}"
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", name], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    return PG + name


def _app(url: str, tmp: str):
    from connector import create_app, db, migrations, orgs
    from connector.identity import Actor
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "IMPORT_MAX_ROWS": 10**7,
                      "IMPORT_MAX_BYTES": 10**10, "JOBS_IN_PROCESS": False},
                     instance_path=os.path.join(tmp, "instance"))
    with app.app_context():
        migrations.upgrade(db.engine())
        with db.transaction() as s:
            org = orgs.create_org(s, "bench", "Bench", actor=Actor.operator())
            org_id = org.id
    return app, org_id


def child_full(url: str, path: str, tmp: str) -> dict:
    from connector import db, orgs
    from connector.identity import Actor
    from connector.imports import service
    from connector.jobs import run_job, serialize
    from connector.models import Job
    app, _ = _app(url, tmp)
    with app.app_context():
        t0 = time.perf_counter()
        with db.transaction() as s:
            with open(path, "rb") as fh:
                saved = service.save_upload(fh, "bench.csv")
            job_id = service.start_import(s, orgs.require_org(s, "bench"), saved, "bench.csv",
                                          actor=Actor.operator(), dry_run=False).id
        status = run_job(job_id)
        secs = time.perf_counter() - t0
        with db.transaction() as s:
            out = serialize(s.get(Job, job_id))
    return {"status": status, "seconds": secs, "counts": out["result"].get("counts")}


def child_raw(url: str, path: str, tmp: str) -> dict:
    from datetime import datetime, timezone
    app, org_id = _app(url, tmp)
    from connector import db
    with app.app_context():
        engine = db.engine()
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        sqlite = url.startswith("sqlite")
        if sqlite:
            cur.execute("BEGIN")  # the engine's connections are in autocommit mode (db.py)
        ph = "?" if sqlite else "%s"
        stamp = now.replace(tzinfo=None).isoformat(sep=" ") if sqlite else now
        sql = ("INSERT INTO users (email, email_verified, username, given_name, family_name, "
               "display_name, must_change_password, active, home_organization_id, profile, "
               "security_stamp, version, created_at, updated_at) VALUES "
               f"({', '.join([ph] * 14)})")
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader)
            batch = []
            for email, first, last, _ext in reader:
                if not EMAIL.match(email):
                    continue
                batch.append((email.lower(), False, None, first, last, f"{first} {last}", False,
                              True, org_id, "{}", 0, 1, stamp, stamp))
                if len(batch) == 1000:
                    cur.executemany(sql, batch)
                    batch = []
            if batch:
                cur.executemany(sql, batch)
        cur.execute("INSERT INTO memberships (organization_id, user_id, role, status, source, "
                    f"created_at, updated_at) SELECT {ph}, id, 'member', 'active', 'csv', {ph}, {ph} "
                    f"FROM users WHERE home_organization_id = {ph}", (org_id, stamp, stamp, org_id))
        raw.commit()
    finally:
        raw.close()
    return {"status": "done", "seconds": time.perf_counter() - t0}


def child_generate(url: str, count: int, tmp: str) -> dict:
    from connector import db, orgs
    from connector.accounts import service
    from connector.identity import Actor
    from connector.jobs import run_job
    app, _ = _app(url, tmp)
    with app.app_context():
        t0 = time.perf_counter()
        with db.transaction() as s:
            job_id = service.generate(s, orgs.require_org(s, "bench"), count,
                                      actor=Actor.operator(), prefix="pupil").id
        status = run_job(job_id)
        t1 = time.perf_counter()
        with db.transaction() as s:
            service.take_sheet(s, orgs.require_org(s, "bench"), job_id, actor=Actor.operator(),
                               fmt="pdf")
        t2 = time.perf_counter()
    from connector.security import hash_password
    h0 = time.perf_counter()
    for _ in range(20):
        hash_password("correct horse battery")
    return {"status": status, "seconds": t1 - t0, "pdf_seconds": t2 - t1,
            "hash_ms": (time.perf_counter() - h0) / 20 * 1000, "cores": os.cpu_count()}


def run_child(args: list[str]) -> dict:
    """Run one measurement in a subprocess; it reports its own peak RSS (ru_maxrss)."""
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--only", choices=["full", "raw", "both"], default="both")
    p.add_argument("--generate", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="runs per side; medians compared")
    p.add_argument("--child", nargs="+")
    a = p.parse_args()
    if a.child:
        mode, url, arg, tmp = a.child
        fn = {"full": child_full, "raw": child_raw}.get(mode)
        res = fn(url, arg, tmp) if fn else child_generate(url, int(arg), tmp)
        res["self_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        # The import's forked file reader (connector/imports/stage.py), measured on its own.
        res["reader_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        print(json.dumps(res))
        return
    kinds = ["sqlite", "postgres"] if a.db == "both" else [a.db]
    with tempfile.TemporaryDirectory() as tmp:
        if a.generate:
            for kind in kinds:
                r = run_child(["generate", fresh_db(kind, tmp, "gen"), str(a.generate), tmp])
                print(f"| generate {a.generate} accounts | {kind} | {r['seconds']:.1f} s "
                      f"| PDF sheet {r['pdf_seconds']:.1f} s | one hash {r['hash_ms']:.0f} ms, "
                      f"floor {a.generate * r['hash_ms'] / 1000 / r['cores']:.1f} s on "
                      f"{r['cores']} cores | peak {r['self_mb']} MB |")
            return
        path = os.path.join(tmp, "bench.csv")
        write_csv(path, a.rows)
        print("| rows | db | mode | seconds (median) | runs | rows/s | peak RSS MB | reader RSS MB "
              "| ratio to raw |")
        print("|---|---|---|---|---|---|---|---|---|")
        for kind in kinds:
            modes = ["raw", "full"] if a.only == "both" else [a.only]
            runs: dict[str, list[dict]] = {m: [] for m in modes}
            # The two sides alternate, each on a fresh database, so they see the same load;
            # the medians are compared (this VM's timings wander by +-30% run to run).
            for i in range(a.repeat):
                for mode in modes:
                    sub = os.path.join(tmp, f"{kind}-{mode}-{i}")
                    os.makedirs(sub)
                    runs[mode].append(run_child([mode, fresh_db(kind, tmp, f"{mode}{i}"), path,
                                                 sub]))
            raw = statistics.median(r["seconds"] for r in runs["raw"]) if "raw" in runs else None
            for mode in modes:
                secs = statistics.median(r["seconds"] for r in runs[mode])
                ratio = f"{secs / raw:.1f}x" if raw and mode == "full" else ""
                every = ", ".join(f"{r['seconds']:.1f}" for r in runs[mode])
                reader = max(r["reader_mb"] for r in runs[mode]) if mode == "full" else ""
                print(f"| {a.rows:,} | {kind} | {mode} | {secs:.2f} | {every} | "
                      f"{a.rows / secs:,.0f} | {max(r['self_mb'] for r in runs[mode])} | "
                      f"{reader} | {ratio} |", flush=True)

if __name__ == "__main__":
    main()
