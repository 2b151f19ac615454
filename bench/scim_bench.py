"""SCIM benchmarks (issue 3), each against the floor (bench/scim_floor.py) in the same run.

    /work/venv/bin/python bench/scim_bench.py                 # SQLite and PostgreSQL
    /work/venv/bin/python bench/scim_bench.py --backend sqlite --users 100000
    /work/venv/bin/python bench/scim_bench.py --only create --users 2000   # quick iteration

Both apps run under gunicorn with 2 workers on 127.0.0.1. The 100,000-user organization and the
50,000-member group are seeded with bulk SQL (setup only: the measured requests go through the
app). Results are printed as a markdown table; bench/scim_results.md records a run."""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

import requests
from sqlalchemy import insert, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from connector import create_app, credentials, db, migrations, orgs  # noqa: E402
from connector.identity import Actor  # noqa: E402
from connector.models import (CredentialKind, Group, GroupMember, LinkedIdentity,  # noqa: E402
                              Membership, User)
from scim.models import ScimGroup, ScimUser, ScimUserValue  # noqa: E402

OP = Actor.operator()
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CHUNK = 5000


def seed_users(session, org, n: int, start_id: int) -> list[tuple[int, str, str]]:
    """Insert n SCIM users of ``org`` with bulk statements; returns (user id, scim id, userName)."""
    now = datetime.now(timezone.utc)
    out = []
    for lo in range(0, n, CHUNK):
        users, members, links, scims, values = [], [], [], [], []
        for i in range(lo, min(n, lo + CHUNK)):
            uid, sid = start_id + i, uuid.uuid4().hex
            name = f"user{i}@{org.account}.test"
            out.append((uid, sid, name))
            users.append({"id": uid, "email": name, "email_verified": False, "given_name": "G",
                          "family_name": f"F{i}", "display_name": f"G F{i}",
                          "must_change_password": False, "active": True,
                          "home_organization_id": org.id, "managed_by_organization_id": org.id,
                          "managed_by_source": "scim", "profile": {}, "security_stamp": 0,
                          "version": 1, "created_at": now, "updated_at": now})
            members.append({"organization_id": org.id, "user_id": uid, "role": "member",
                            "status": "active", "source": "scim", "created_at": now,
                            "updated_at": now})
            links.append({"connection": f"scim:{org.id}", "external_id": sid, "user_id": uid,
                          "organization_id": org.id, "username": name, "data": {},
                          "created_at": now})
            data = {"userName": name, "name": {"givenName": "G", "familyName": f"F{i}"},
                    "emails": [{"value": name, "type": "work", "primary": True}], "active": True}
            scims.append({"id": uid, "organization_id": org.id, "scim_id": sid, "user_id": uid,
                          "user_name": name, "user_name_folded": name, "given_name": "G",
                          "family_name": f"F{i}", "active": True, "data": data, "version": 1,
                          "created_at": now, "updated_at": now})
            values.append({"scim_user_id": uid, "organization_id": org.id, "attr": "emails",
                           "type": "work", "primary": True, "value": name, "value_folded": name})
        session.execute(insert(User), users)
        session.execute(insert(Membership), members)
        session.execute(insert(LinkedIdentity), links)
        session.execute(insert(ScimUser), scims)
        session.execute(insert(ScimUserValue), values)
    return out


def seed_group(session, org, name: str, user_ids: list[int]) -> tuple[int, str]:
    now = datetime.now(timezone.utc)
    sid = uuid.uuid4().hex
    g = Group(organization_id=org.id, display_name=name, external_id=sid, source="scim",
              data={}, version=1, created_at=now, updated_at=now)
    session.add(g)
    session.flush()
    session.add(ScimGroup(group_id=g.id, organization_id=org.id, data={}))
    for lo in range(0, len(user_ids), CHUNK):
        session.execute(insert(GroupMember), [{"group_id": g.id, "user_id": u, "created_at": now}
                                              for u in user_ids[lo:lo + CHUNK]])
    return g.id, sid


def setup(url: str, instance: str, n_big: int) -> dict:
    app = create_app({"DATABASE_URL": url}, instance_path=instance)
    t0 = time.perf_counter()
    with app.app_context():
        migrations.upgrade(db.engine())
        s = db.new_session()
        with s.begin():
            small = orgs.create_org(s, "small", "Small", actor=OP)
            big = orgs.create_org(s, "big", "Big", actor=OP)
            _, tok_small = credentials.create(s, small, CredentialKind.SCIM_TOKEN, name="b", actor=OP)
            _, tok_big = credentials.create(s, big, CredentialKind.SCIM_TOKEN, name="b", actor=OP)
            small_users = seed_users(s, small, 1000, 1_000_000)
            big_users = seed_users(s, big, n_big, 2_000_000)
            g10 = seed_group(s, big, "ten", [u[0] for u in big_users[:10]])
            g50k = seed_group(s, big, "fifty-thousand",
                              [u[0] for u in big_users[:min(50_000, n_big // 2)]])
            small_id, big_id = small.id, big.id
        if db.engine().dialect.name == "postgresql":
            with db.engine().begin() as c:
                for t in ("users", "scim_users", "memberships", "linked_identities",
                          "scim_user_values", "group_members"):
                    if t != "group_members":
                        c.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                                       f"(SELECT max(id) FROM {t}))"))
                c.execute(text("ANALYZE"))
        s.close()
        db.engine().dispose()
    return {"tokens": (tok_small, tok_big), "small": small_users, "big": big_users,
            "g10": g10, "g50k": g50k, "org_ids": (small_id, big_id),
            "seed_seconds": time.perf_counter() - t0}


def serve(module: str, port: int, env: dict) -> subprocess.Popen:
    p = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", "2",
                          "-b", f"127.0.0.1:{port}", "--log-level", "warning", module],
                         cwd=ROOT, env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            requests.get(f"http://127.0.0.1:{port}/scim/v2/ServiceProviderConfig", timeout=10)
            return p
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(p.pid, signal.SIGTERM)
    raise RuntimeError(f"{module} did not start")


def timed_pair(fa, fb, n: int) -> tuple[float, float]:
    """Median latencies (ms) of two requests, alternated so that both see the same load
    (this machine is shared: sequential blocks of samples drift apart)."""
    for i in range(3):
        fa(-1 - i)
        fb(-1 - i)
    sa, sb = [], []
    for i in range(n):
        for fn, out in ((fa, sa), (fb, sb)):
            t = time.perf_counter()
            fn(i)
            out.append((time.perf_counter() - t) * 1000)
    return statistics.median(sa), statistics.median(sb)


def throughput(fn, total: int, clients: int = 8) -> tuple[float, int]:
    """Requests per second with ``clients`` threads; and how many failed."""
    errors = [0]
    per = total // clients

    def run(c):
        sess = requests.Session()
        for i in range(per):
            if not fn(sess, c * per + i):
                errors[0] += 1
    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return per * clients / (time.perf_counter() - t), errors[0]


MEASURES = ("filter", "add", "group", "page", "create")


def measure(data: dict, scim: str, floor: str, n: int,
            only: tuple[str, ...] = MEASURES) -> list[tuple]:
    tok_small, tok_big = data["tokens"]
    hs = {"Authorization": f"Bearer {tok_small}"}
    hb = {"Authorization": f"Bearer {tok_big}"}
    small_id, big_id = data["org_ids"]
    http = requests.Session()
    rows = []

    def filt(users, h):
        def call(i):
            name = users[(i * 7919) % len(users)][2]
            r = http.get(f"{scim}/scim/v2/Users", params={"filter": f'userName eq "{name}"'},
                         headers=h)
            assert r.status_code == 200 and r.json()["totalResults"] == 1, r.text
        return call

    def ffilt(users, org):
        def call(i):
            name = users[(i * 7919) % len(users)][2]
            r = http.get(f"{floor}/floor/users", params={"org": org, "userName": name})
            assert r.json()["totalResults"] == 1
        return call
    if "filter" in only:
        a, b = timed_pair(filt(data["small"], hs), filt(data["big"], hb), n)
        fa, fb = timed_pair(ffilt(data["small"], small_id), ffilt(data["big"], big_id), n)
        rows.append(("filter userName eq: 100k-user org vs 1k", a, b, fa, fb, 1.5))

    # Adding one member: each call adds a different user not yet in either group.
    spare = iter(data["big"][min(50_000, len(data["big"]) // 2):])

    def add(gsid):
        def call(i):
            sid = next(spare)[1]
            r = http.patch(f"{scim}/scim/v2/Groups/{gsid}", headers=hb, json={
                "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                                    "value": [{"value": sid}]}]})
            assert r.status_code == 204, r.text
        return call

    def fadd(gid):
        def call(i):
            r = http.post(f"{floor}/floor/groups/{gid}/members", json={"user_id": next(spare)[0]})
            assert r.status_code == 204
        return call
    g10, g50k = data["g10"], data["g50k"]
    if "add" in only:
        a, b = timed_pair(add(g10[1]), add(g50k[1]), n)
        fa, fb = timed_pair(fadd(g10[0]), fadd(g50k[0]), n)
        rows.append(("add one member: group of 50k vs 10", a, b, fa, fb, 1.5))

    def get_group(gsid):
        def call(i):
            r = http.get(f"{scim}/scim/v2/Groups/{gsid}", headers=hb,
                         params={"excludedAttributes": "members"})
            assert r.status_code == 200 and "members" not in r.json()
        return call

    def fget(gid):
        return lambda i: http.get(f"{floor}/floor/groups/{gid}").raise_for_status()
    if "group" in only:
        a, b = timed_pair(get_group(g10[1]), get_group(g50k[1]), n)
        fa, fb = timed_pair(fget(g10[0]), fget(g50k[0]), n)
        rows.append(("GET group excludedAttributes=members: 50k vs 10", a, b, fa, fb, 1.5))

    total = len(data["big"])

    def pg(start):
        def call(i):
            r = http.get(f"{scim}/scim/v2/Users", headers=hb,
                         params={"startIndex": start, "count": 100})
            assert r.status_code == 200 and len(r.json()["Resources"]) == 100
        return call

    def fpg(offset):
        return lambda i: http.get(f"{floor}/floor/users/page",
                                  params={"org": big_id, "offset": offset}).raise_for_status()
    if "page" in only:
        m = max(10, n // 3)
        a, b = timed_pair(pg(1), pg(total - 99), m)
        fa, fb = timed_pair(fpg(0), fpg(total - 100), m)
        rows.append(("page of 100: startIndex near 100k vs 1", a, b, fa, fb, 3.0))

    run_id = uuid.uuid4().hex[:6]

    def create(sess, i):
        r = sess.post(f"{scim}/scim/v2/Users", headers=hb, json={
            "schemas": [USER_SCHEMA], "userName": f"new{i}-{run_id}@big.test",
            "name": {"givenName": "N", "familyName": str(i)},
            "emails": [{"value": f"new{i}-{run_id}@big.test", "type": "work", "primary": True}]})
        return r.status_code == 201

    def fcreate(sess, i):
        r = sess.post(f"{floor}/floor/users", json={"org": big_id,
                                                    "userName": f"floor{i}-{run_id}@big.test"})
        return r.status_code == 201
    if "create" in only:
        creates = max(80, n * 4)
        rate, errs = throughput(create, creates)
        frate, ferrs = throughput(fcreate, creates)
        rows.append(("create-user throughput, 8 clients (req/s)", rate, errs, frate, ferrs, 0.5))
    return rows


def run_backend(backend: str, n_big: int, n: int,
                only: tuple[str, ...] = MEASURES) -> tuple[list[tuple], float]:
    tmp = tempfile.mkdtemp(prefix=f"scim-bench-{backend}-")
    if backend == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        name = f"scim_bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    print(f"[{backend}] seeding {n_big} users ...", flush=True)
    data = setup(url, tmp, n_big)
    print(f"[{backend}] seeded in {data['seed_seconds']:.1f}s; starting gunicorn", flush=True)
    env = {**os.environ, "CONNECTOR_DATABASE_URL": url, "CONNECTOR_INSTANCE_PATH": tmp,
           "CONNECTOR_LOG_LEVEL": "WARNING", "CONNECTOR_JOBS_IN_PROCESS": "0",
           "PYTHONPATH": ROOT}
    procs = []
    try:
        procs.append(serve("bench.scim_wsgi:app", 8601, env))
        procs.append(serve("bench.scim_floor:app", 8602, env))
        rows = measure(data, "http://127.0.0.1:8601", "http://127.0.0.1:8602", n, only)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(10)
    if backend == "postgresql":
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", url.rsplit("/", 1)[1]])
    return rows, data["seed_seconds"]


def report(backend: str, rows: list[tuple]) -> str:
    out = [f"### {backend}", "",
           "| measure | SCIM small / base | SCIM large / deep | ratio (target) | floor base | floor large | floor ratio |",
           "|---|---|---|---|---|---|---|"]
    for name, a, b, fa, fb, target in rows:
        if "throughput" in name:
            ok = "PASS" if a >= target * fa and b == 0 else "MISS"
            out.append(f"| {name} | {a:.1f} req/s | errors: {b} | {a / fa:.2f} of floor "
                       f"(>= {target}, 0 errors) {ok} | {fa:.1f} req/s | errors: {fb} | |")
        else:
            ok = "PASS" if b / a < target else "MISS"
            out.append(f"| {name} | {a:.2f} ms | {b:.2f} ms | {b / a:.2f} (< {target}) {ok} | "
                       f"{fa:.2f} ms | {fb:.2f} ms | {fb / fa:.2f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--users", type=int, default=100_000, help="size of the large organization")
    ap.add_argument("--requests", type=int, default=60, help="samples per latency measure")
    ap.add_argument("--only", nargs="+", choices=MEASURES, default=list(MEASURES),
                    help="run only these measures (for quick iteration; record the full run)")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for b in backends:
        rows, seed = run_backend(b, args.users, args.requests, tuple(args.only))
        print()
        print(report(b, rows))
        print(f"\n(seed of {args.users} users by bulk SQL: {seed:.1f}s; medians of "
              f"{args.requests} requests; gunicorn -w 2)\n", flush=True)


if __name__ == "__main__":
    main()
