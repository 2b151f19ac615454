"""`connector import csv|template` and `connector accounts generate|reset-password`."""
from __future__ import annotations

import csv
import io
import json






def test_import_dry_run_then_commit_with_summary_and_report(cli, factory, tmp_path):
    factory.org("acme")
    src = tmp_path / "users.csv"
    src.write_bytes("E-mail;Given name;Locker\r\nada@acme.org;Zoë;7\r\nbad;X;\r\n"
                    .encode("cp1252"))
    dry = cli("import", "csv", "acme", str(src), "--dry-run")
    assert "dry run: created 1, joined 0, updated 0, unchanged 0, rejected 1 (2 rows)" in dry.output
    assert "ignored unknown columns: Locker" in dry.output
    assert "line 3: email: 'bad' is not a valid email address. (invalid_email)" in dry.output
    report = tmp_path / "report.csv"
    out = json.loads(cli("import", "csv", "acme", str(src), "--json", "--report",
                         str(report)).output)
    assert out["status"] == "done" and out["result"]["counts"] == {"created": 1, "rejected": 1}
    assert out["result"]["encoding"] == "cp1252" and out["result"]["delimiter"] == ";"
    rows = list(csv.DictReader(io.StringIO(report.read_text("utf-8-sig"))))
    assert [(r["line"], r["outcome"]) for r in rows] == [("2", "created"), ("3", "rejected")]
    again = cli("import", "csv", "acme", str(src))
    assert "imported: created 0, joined 0, updated 0, unchanged 1, rejected 1" in again.output


def test_import_errors_exit_1_with_one_line(cli, factory, tmp_path):
    factory.org("acme")
    src = tmp_path / "u.csv"
    src.write_text("first_name\nAda\n")
    r = cli("import", "csv", "acme", str(src), code=1)
    assert r.stderr.startswith("error: The header needs an email") and "(no_identifier_column)" in r.stderr
    r = cli("import", "csv", "nope", str(src), code=1)
    assert "(org_not_found)" in r.stderr


def test_template_lists_every_column(cli, tmp_path):
    out = cli("import", "template").output
    assert out.splitlines()[0] == ("email,username,first_name,last_name,display_name,role,"
                                   "groups,sub_organization,password,external_id,active")


def test_accounts_generate_writes_the_sheet_and_reset_prints_a_password(cli, factory, tmp_path):
    factory.org("acme")
    sheet = tmp_path / "cards.csv"
    out = cli("accounts", "generate", "acme", "--count", "3", "--prefix", "kid", "--group",
              "4B", "--out", str(sheet)).output
    assert "created 3 accounts in acme" in out
    rows = list(csv.DictReader(io.StringIO(sheet.read_text("utf-8-sig"))))
    assert [r["username"] for r in rows] == ["kid1", "kid2", "kid3"]
    assert oct(sheet.stat().st_mode & 0o777) == "0o600"
    reset = json.loads(cli("accounts", "reset-password", "acme", "kid2", "--json").output)
    assert reset["username"] == "kid2" and len(reset["password"]) == 12
    bad = cli("accounts", "generate", "acme", "--count", "1", "--out", str(tmp_path / "x.txt"),
              code=1)
    assert "(invalid_format)" in bad.stderr
