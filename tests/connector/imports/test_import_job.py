"""CSV import rules: dry run equals commit, idempotent re-upload, errors with line and column,
duplicates inside the file, limits, report with formula injection neutralized."""
from __future__ import annotations

from sqlalchemy import func, select

from connector import db
from connector.identity import Actor, Identity, Source
from connector.models import AuditEvent, GroupMember, LinkedIdentity, Membership, User

from .helpers import csv_bytes, report, run_import

HEADER = ["email", "first_name", "last_name", "role", "groups", "external_id"]


def _people(n: int, start: int = 0, last: str = "Smith") -> list[list[str]]:
    return [[f"p{i}@acme.org", f"First{i}", last, "", "Team A|Team B", f"E{i}"]
            for i in range(start, start + n)]


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model).where(*where))


def test_dry_run_predicts_exactly_what_commit_does_and_writes_nothing(app, factory):
    factory.org("acme", seat_limit=5)
    factory.member("acme", "old@acme.org")
    data = csv_bytes([HEADER] + _people(6) + [["bad", "", "", "", "", ""],
                                             ["p1@acme.org", "Again", "", "", "", "X1"],
                                             ["x@acme.org", "", "", "wizard", "", ""]])
    # Batches of 2: seat limits must carry across the dry run's rolled-back batches.
    app.config["IMPORT_BATCH_SIZE"] = 2
    dry = run_import(app, "acme", data, dry_run=True)
    assert _count(app, User) == 1 and _count(app, Membership) == 1
    real = run_import(app, "acme", data)
    assert dry["result"]["counts"] == real["result"]["counts"] == {"created": 4, "rejected": 5}
    strip = lambda errs: [(e["line"], e["column"], e["reason"]) for e in errs]  # noqa: E731
    assert strip(dry["errors"]) == strip(real["errors"]) == [
        (6, None, "seats_full"), (7, None, "seats_full"), (8, "email", "invalid_email"),
        (9, "email", "duplicate_in_file"), (10, "role", "unknown_role")]
    assert real["rows_done"] == real["rows_total"] == 9
    assert _count(app, Membership) == 5


def test_same_file_twice_changes_nothing_and_changed_names_update(app, factory):
    factory.org("acme")
    data = csv_bytes([HEADER] + _people(30))
    first = run_import(app, "acme", data)
    assert first["result"]["counts"] == {"created": 30}
    assert _count(app, GroupMember) == 60
    events = _count(app, AuditEvent)
    again = run_import(app, "acme", data)
    assert again["result"]["counts"] == {"unchanged": 30}
    assert _count(app, User) == 30 and _count(app, GroupMember) == 60
    assert _count(app, AuditEvent) == events + 1  # only the "import.started" event
    renamed = _people(30)
    renamed[3][2] = "Jones"
    third = run_import(app, "acme", csv_bytes([HEADER] + renamed))
    assert third["result"]["counts"] == {"unchanged": 29, "updated": 1}
    with app.app_context():
        assert db.session().scalar(select(User.family_name).where(
            User.email == "p3@acme.org")) == "Jones"


def test_external_id_is_linked_on_the_csv_connection(app, factory):
    org = factory.org("acme")
    run_import(app, "acme", csv_bytes([HEADER] + _people(2)))
    with app.app_context():
        links = db.session().execute(select(LinkedIdentity.connection,
                                            LinkedIdentity.external_id)).all()
    assert sorted(links) == [(f"csv:{org.id}", "E0"), (f"csv:{org.id}", "E1")]


def test_rows_of_scim_managed_users_and_other_accounts_are_rejected(app, factory):
    factory.org("acme")
    factory.org("other")
    factory.provision("acme", [Identity(email="scim@acme.org", external_id="s1")],
                      source=Source.SCIM, connection="scim:1")
    factory.member("other", "stranger@other.org")
    data = csv_bytes([["email", "first_name"], ["scim@acme.org", "Renamed"],
                      ["stranger@other.org", "X"], ["sub@acme.org", ""]])
    out = run_import(app, "acme", data + b"", dry_run=False)
    assert [(e["line"], e["reason"]) for e in out["errors"]] == [
        (2, "managed_elsewhere"), (3, "email_taken")]


def test_unknown_sub_organization_is_reported_with_its_column(app, factory):
    factory.org("acme")
    factory.org("acme_east", parent="acme")
    data = csv_bytes([["email", "sub_organization"], ["a@acme.org", "acme_east"],
                      ["b@acme.org", "nowhere"]])
    out = run_import(app, "acme", data)
    assert out["result"]["counts"] == {"created": 1, "rejected": 1}
    assert out["errors"][0]["column"] == "sub_organization"
    assert out["errors"][0]["reason"] == "unknown_sub_organization"


def test_row_limit_is_enforced_with_a_clear_message(app, factory):
    factory.org("acme")
    app.config["IMPORT_MAX_ROWS"] = 5
    out = run_import(app, "acme", csv_bytes([HEADER] + _people(6)))
    assert out["status"] == "failed"
    assert "more than 5 rows" in out["error"] and "too_many_rows" in out["error"]
    assert _count(app, User) == 0


def test_file_size_limit_is_enforced(app, factory):
    import io

    import pytest

    from connector.errors import LimitReached
    from connector.imports.service import save_upload
    app.config["IMPORT_MAX_BYTES"] = 100
    with app.app_context(), pytest.raises(LimitReached) as err:
        save_upload(io.BytesIO(b"x" * 101), "big.csv")
    assert err.value.code == "file_too_large"


def test_invalid_active_value_is_a_row_error(app, factory):
    factory.org("acme")
    out = run_import(app, "acme", csv_bytes([["email", "active"], ["a@acme.org", "maybe"],
                                             ["b@acme.org", "false"]]))
    assert out["errors"] == [{"line": 2, "column": "active", "reason": "invalid_active",
                              "message": "active is 'maybe'; use true or false."}]
    with app.app_context():
        assert db.session().scalar(select(Membership.status)) == "deactivated"


def test_report_neutralizes_formula_injection(app, factory):
    factory.org("acme")
    evil = ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "=cmd|' /C calc'!A0"]
    rows = [["email", "first_name"]] + [[f"u{i}@acme.org", v] for i, v in enumerate(evil)]
    out = run_import(app, "acme", csv_bytes(rows))
    got = [r["first_name"] for r in report(app, "acme", out["id"])]
    assert got == ["'" + v for v in evil]


def test_neutralize_covers_tab_and_carriage_return_and_leaves_text_alone():
    from connector.imports.report import neutralize
    assert neutralize("\tTab") == "'\tTab" and neutralize("\rCR") == "'\rCR"
    assert neutralize("Ada") == "Ada" and neutralize(None) == "" and neutralize(5) == "5"


def test_generated_passwords_go_to_new_accounts_once_in_the_report(app, factory):
    factory.org("acme")
    factory.member("acme", "old@acme.org")
    data = csv_bytes([["email", "password"], ["new@acme.org", ""], ["old@acme.org", ""],
                      ["given@acme.org", "Given-Passw0rd"]])
    out = run_import(app, "acme", data, passwords="generate")
    assert out["result"]["counts"] == {"created": 2, "unchanged": 1}
    other = Actor("user:77", rank=30, user_id=77)
    assert all(r["password"] == "" for r in report(app, "acme", out["id"], actor=other))
    rows = {r["email"]: r for r in report(app, "acme", out["id"])}
    assert len(rows["new@acme.org"]["password"]) == 12
    assert rows["old@acme.org"]["password"] == "" and rows["given@acme.org"]["password"] == ""
    from connector.security import verify_password
    with app.app_context():
        users = {u.email: u for u in db.session().scalars(select(User))}
    assert verify_password(users["new@acme.org"].password_hash, rows["new@acme.org"]["password"])
    assert verify_password(users["given@acme.org"].password_hash, "Given-Passw0rd")
    assert users["new@acme.org"].must_change_password
    assert users["old@acme.org"].password_hash is None
    # Second download: the credentials are gone; the first download was audited.
    assert all(r["password"] == "" for r in report(app, "acme", out["id"]))
    assert _count(app, AuditEvent, AuditEvent.action == "import.credentials_downloaded") == 1
