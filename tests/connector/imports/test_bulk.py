"""The set-based create (pipeline/bulk.py) writes exactly what the per-record pipeline writes.

The same file goes into two organizations with the same settings: one import as it runs, one
with the set-based create switched off, so every row takes pipeline.provision. Every row each
import wrote (users, memberships, linked identities, audit events, webhook outbox rows, the
per-row outcomes) is compared, with the organization's own names and ids factored out."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from connector import db
from connector.identity import Actor
from connector.imports.models import ImportRow
from connector.models import (AuditEvent, LinkedIdentity, Membership, OutboxMessage, User,
                              WebhookEndpoint)
from connector.pipeline import bulk

from .helpers import csv_bytes, report, run_import

HEADER = ["E-mail", "username", "first_name", "last_name", "display_name", "role", "groups",
          "external_id", "active"]
ADMIN = Actor("alice@admin", rank=30, user_id=None)  # may grant admin, not owner


def rows(org: str) -> list[list[str]]:
    """A file for organization ``org``: emails and usernames carry its name, so the two
    imports never meet; everything else is the same."""
    def person(i: int, **cells: str) -> list[str]:
        d = {"E-mail": f"P{i}.{org}@School.org", "username": "", "first_name": f" Ann{i} ",
             "last_name": f"Lee  {i}", "display_name": "", "role": "", "groups": "",
             "external_id": f"E{i}", "active": ""}
        d.update(cells)
        return [d[h] for h in HEADER]
    return [HEADER,
            person(0),
            person(1, username=f"u1.{org}", role="Staff", display_name="The  One"),
            person(2, external_id="", active="yes"),
            person(3, role="admin"),
            person(4, role="owner"),                      # automated sources never mint owners
            person(5, groups="Team A"),                   # groups: the per-record path
            person(6, active="no"),                       # joins deactivated: per-record path
            person(7, **{"E-mail": f"p7.{org}@other.org"}),  # domain not allowed
            person(8, **{"E-mail": f"P0.{org}@school.org"}),  # same email as line 2
            person(9, **{"E-mail": "not an email"}),
            person(10, **{"E-mail": f"old.{org}@school.org"}),  # an existing member: updated
            person(11, external_id="E0"),                 # same external id as line 2
            person(12, username=f"u12.{org}", first_name="", last_name="")]


def setup_org(factory, account: str) -> int:
    org = factory.org(account, settings={"allowed_domains": ["school.org"]})
    factory.member(account, f"old.{account}@school.org")
    factory.run(lambda s: s.add(WebhookEndpoint(organization_id=org.id, secret="s",
                                                url="http://127.0.0.1:9/", events=[])))
    return org.id


def snapshot(app, account: str, org_id: int, job_id: int) -> dict:
    """What the import wrote for ``account``, with its name and ids factored out."""
    def norm(value):
        if isinstance(value, str):
            return value.replace(account, "ORG").replace(f"csv:{org_id}", "csv:ORG")
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items() if k not in ("id", "created_at")}
        if isinstance(value, list):
            return [norm(v) for v in value]
        return value

    with app.app_context():
        s = db.session()
        users = {u.id: u for u in s.scalars(select(User).where(
            User.home_organization_id == org_id))}
        key = {uid: norm(u.email or u.username) for uid, u in users.items()}

        def data(d: dict) -> str:  # user ids as the user's key; order-free
            d = norm(d)
            if "user_id" in d:
                d["user_id"] = key.get(d["user_id"])
            return repr(sorted(d.items()))

        user_rows = sorted((key[u.id], norm(u.username), u.given_name, u.family_name,
                            u.display_name, u.email_verified, u.must_change_password, u.active,
                            u.managed_by_source, u.profile, u.password_hash is None,
                            u.security_stamp, u.version) for u in users.values())
        members = sorted((key[m.user_id], m.role, m.status, m.source) for m in s.scalars(
            select(Membership).where(Membership.organization_id == org_id)))
        links = sorted((key[li.user_id], norm(li.connection), li.external_id, li.username,
                        li.data) for li in s.scalars(select(LinkedIdentity).where(
                            LinkedIdentity.organization_id == org_id)))
        events = sorted((e.action, e.actor, e.source, e.target_type,
                         key.get(int(e.target_id)) if e.target_type == "user" else "",
                         data(e.data))
                        for e in s.scalars(select(AuditEvent).where(
                            AuditEvent.organization_id == org_id,
                            AuditEvent.action.not_like("import.%"),
                            AuditEvent.action.not_like("org.%"))))
        outbox = sorted((o.topic, o.payload["event"]["source"], o.payload["event"]["actor"],
                         o.payload["event"]["target"]["type"], data(o.payload["event"]["data"]))
                        for o in s.scalars(select(OutboxMessage).where(
                            OutboxMessage.organization_id == org_id)))
        outcomes = [(r.line, r.status, r.reason, r.field, norm(r.message),
                     key.get(r.user_id) if r.user_id else None)
                    for r in s.scalars(select(ImportRow).where(ImportRow.job_id == job_id)
                                       .order_by(ImportRow.line))]
    return {"users": user_rows, "members": members, "links": links, "events": events,
            "outbox": outbox, "outcomes": outcomes}


def per_record_only(monkeypatch) -> None:
    monkeypatch.setattr(bulk, "create", lambda *a, **k: bulk.Created())


@pytest.mark.parametrize("dry_run", [False, True])
def test_set_based_create_writes_what_the_per_record_pipeline_writes(app, factory, monkeypatch,
                                                                     dry_run):
    app.config["IMPORT_BATCH_SIZE"] = 5  # batches mixing both paths, and more than one
    fast_id, slow_id = setup_org(factory, "fast"), setup_org(factory, "slow")
    fast = run_import(app, "fast", csv_bytes(rows("fast")), actor=ADMIN, dry_run=dry_run)
    with monkeypatch.context() as m:
        per_record_only(m)
        slow = run_import(app, "slow", csv_bytes(rows("slow")), actor=ADMIN, dry_run=dry_run)
    assert fast["status"] == slow["status"] == "done"
    assert fast["result"]["counts"] == slow["result"]["counts"]
    a = snapshot(app, "fast", fast_id, fast["id"])
    b = snapshot(app, "slow", slow_id, slow["id"])
    assert a == b
    created = [o for o in a["outcomes"] if o[1] == "created"]
    if dry_run:
        assert len(a["users"]) == 1 and len(created) == 8 and not any(o[5] for o in created)
    else:
        assert len(a["users"]) == 9 and len(created) == 8 and all(o[5] for o in created)
        assert {"user.created", "member.joined"} <= {e[0] for e in a["events"]}
        assert {o[0] for o in a["outbox"]} >= {"user.created", "member.joined"}
    # The set-based create did take the brand-new rows of the first import.
    with app.app_context():
        staged = db.session().scalars(select(ImportRow.line).where(
            ImportRow.job_id == fast["id"], ImportRow.bulk.is_(True))).all()
    assert sorted(staged) == [2, 3, 4, 5, 9, 10, 12, 13, 14]


def test_set_based_create_leaves_a_batch_that_could_run_out_of_seats_to_provision(app, factory):
    factory.org("acme", seat_limit=3)
    data = csv_bytes([["email"]] + [[f"k{i}@acme.org"] for i in range(5)])
    out = run_import(app, "acme", data)
    assert out["result"]["counts"] == {"created": 3, "rejected": 2}
    assert [(e["line"], e["reason"]) for e in out["errors"]] == [(5, "seats_full"),
                                                                 (6, "seats_full")]


def test_an_organization_that_lets_no_import_create_accounts_gets_none(app, factory):
    factory.org("acme", settings={"create_sources": ["scim"]})
    out = run_import(app, "acme", csv_bytes([["email"], ["a@acme.org"], ["b@acme.org"]]))
    assert out["result"]["counts"] == {"rejected": 2}
    assert {e["reason"] for e in out["errors"]} == {"source_not_allowed"}


def test_prepare_applies_the_pipelines_normalization():
    assert bulk.prepare(" Ann@Example.ORG ", "Ann.B", " Ann ", "Lee  B", "", "Staff") == (
        "ann@example.org", "ann.b", "Ann", "Lee B", "Ann Lee B", "staff")
    assert bulk.prepare("ann@example.org", None, None, None, None, None) == (
        "ann@example.org", None, "", "", "", None)
    for bad in (("not-an-email", None), ("a@example.org", "-bad name"), (None, "user")):
        assert bulk.prepare(*bad, None, None, None, None) is None
    assert bulk.prepare("a@example.org", None, None, None, None, "owner") is None
    assert bulk.prepare("a@example.org", None, None, None, None, "wizard") is None
    assert bulk.prepare("a@example.org", None, "x" * 201, None, None, None) is None



def test_a_row_staged_without_its_cells_reads_back_as_the_same_record(tmp_path):
    """Rows the set-based create could take are staged without their cells (models.cells
    gives them back from the columns); provision must see the same record either way."""
    from types import SimpleNamespace

    from connector.imports import stage
    from connector.imports.job import identity
    from connector.imports.models import DERIVED, cells
    from connector.pipeline.normalize import normalize
    values = {"email": " Ann.Lee@School.ORG", "username": "Ann.L", "first_name": "Ann  Marie",
              "last_name": "Lee", "role": "Staff", "external_id": "E7"}
    row = stage.staged(1, 2, values)
    assert row[stage.DATA] is None and row[stage.BULK]
    staged = SimpleNamespace(**dict(zip(stage.COLUMNS, row)))
    assert normalize(identity(cells(staged))) == normalize(identity(values))
    assert set(DERIVED) == set(values)  # every derivable field is covered
    # A cell that is not derivable (display name, active) keeps the row's cells as read.
    for extra in ({"display_name": "A. Lee"}, {"active": "yes"}):
        assert stage.staged(1, 2, {**values, **extra})[stage.DATA] is not None


def test_the_report_shows_the_cells_of_rows_staged_without_them(app, factory):
    factory.org("acme")
    out = run_import(app, "acme", csv_bytes([["Email", "First name", "last_name", "external_id"],
                                             ["Zoe@Acme.org", "Zoe", "Ng", "Z1"]]))
    assert out["result"]["counts"] == {"created": 1}
    (row,) = report(app, "acme", out["id"])
    assert (row["email"], row["first_name"], row["last_name"], row["external_id"]) == (
        "zoe@acme.org", "Zoe", "Ng", "Z1")
