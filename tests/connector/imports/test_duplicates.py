"""Duplicates inside a file: the first line with an email, username or external id wins, and
every later line repeating one is rejected naming that line, across batches and after a job
resumes. The check runs in the file's reader against a scratch SQLite file (stage.Keys)."""
from __future__ import annotations

import os

from connector.imports import stage
from connector.imports.reader import open_table

from .helpers import csv_bytes, run_import

HEADER = ["email", "username", "external_id", "active"]
ROWS = [HEADER,
        ["a@acme.org", "a1", "E1", ""],        # 2
        ["b@acme.org", "b1", "E2", ""],        # 3
        ["A@ACME.org", "a9", "E9", ""],        # 4: email of line 2 (compared case-folded)
        ["c@acme.org", "B1", "E3", ""],        # 5: username of line 3
        ["d@acme.org", "d1", "E1", ""],        # 6: external id of line 2
        ["b@acme.org", "b1", "E2", ""],        # 7: all three of line 3: the email is named
        ["e@acme.org", "e1", "E5", "maybe"],   # 8: rejected for its own reason...
        ["e@acme.org", "e2", "E6", ""]]        # 9: ...and still the first with its email
EXPECTED = [(4, "email", "Same email as line 2."), (5, "username", "Same username as line 3."),
            (6, "external_id", "Same external_id as line 2."),
            (7, "email", "Same email as line 3."), (9, "email", "Same email as line 8.")]


def test_repeats_are_rejected_naming_the_first_line_across_batches(app, factory):
    factory.org("acme")
    app.config["IMPORT_BATCH_SIZE"] = 2  # every repeat is in a later batch than its first
    out = run_import(app, "acme", csv_bytes(ROWS))
    dups = [(e["line"], e["column"], e["message"]) for e in out["errors"]
            if e["reason"] == "duplicate_in_file"]
    assert dups == EXPECTED
    assert out["result"]["counts"] == {"created": 2, "rejected": 6}
    assert [e["line"] for e in out["errors"] if e["reason"] == "invalid_active"] == [8]


def test_a_resumed_reading_judges_later_lines_against_the_committed_ones(tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes(csv_bytes(ROWS))
    keys = str(tmp_path / "users.csv.keys")
    table = open_table(str(path), "users.csv")
    # Resuming after line 5: lines 2-5 are committed already, and only 6-9 are staged again.
    chunks = list(stage._produce(table, 1, 5, 2, (keys, False, True)))
    rows = [row for chunk in chunks for row in chunk]
    assert [row[1] for row in rows] == [6, 7, 8, 9]
    marked = [(row[1], row[stage.MESSAGE]) for row in rows if row[stage.STATUS] == "rejected"
              and "Same" in row[stage.MESSAGE]]
    assert marked == [(6, "Same external_id as line 2."), (7, "Same email as line 3."),
                      (9, "Same email as line 8.")]
    assert not os.path.exists(keys)  # the scratch file goes when the reading ends
