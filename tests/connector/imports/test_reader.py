"""Reading user files: encodings, delimiters, RFC 4180 quoting, xlsx, headers and aliases."""
from __future__ import annotations

import codecs

import pytest

from connector.errors import InvalidInput
from connector.imports.reader import detect_encoding, open_table

HEADER = ["email", "first_name", "last_name"]
ROWS = [HEADER, ["zoe@example.org", "Zoë", "Müller"], ["andre@example.org", "André", "Ærø"]]


def _write(tmp_path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _text(rows, delim=","):
    return "\r\n".join(delim.join(r) for r in rows) + "\r\n"


@pytest.mark.parametrize("encoding,prefix,expected", [
    ("utf-8", b"", "utf-8"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("utf-16", b"", "utf-16"),              # Python writes a BOM for "utf-16"
    ("utf-16-le", b"", "utf-16-le"),        # no BOM: found by the NUL pattern
    ("cp1252", b"", "cp1252"),
])
def test_encodings_are_detected_and_names_survive(tmp_path, encoding, prefix, expected):
    path = _write(tmp_path, "u.csv", prefix + _text(ROWS).encode(encoding))
    assert detect_encoding(path) == expected
    table = open_table(path, "u.csv")
    rows = [values for _, values, _ in table.rows()]
    assert rows[0] == {"email": "zoe@example.org", "first_name": "Zoë", "last_name": "Müller"}
    assert rows[1]["last_name"] == "Ærø"
    assert table.fields == HEADER  # the BOM is not part of the first header name


def test_windows_1252_smart_quotes_and_euro_decode(tmp_path):
    data = "email,display_name\r\na@example.org,“Chloé” €\r\n".encode("cp1252")
    table = open_table(_write(tmp_path, "w.csv", data), "w.csv")
    assert table.encoding == "cp1252"
    assert [v for _, v, _ in table.rows()][0]["display_name"] == "“Chloé” €"


def test_latin1_only_bytes_fall_back_to_latin1(tmp_path):
    # 0x81 is undefined in Windows-1252, so only Latin-1 decodes this file.
    data = b"email,display_name\r\na@example.org,x\x81\xe9\r\n"
    table = open_table(_write(tmp_path, "l.csv", data), "l.csv")
    assert table.encoding == "latin-1"
    assert [v for _, v, _ in table.rows()][0]["display_name"] == "x\x81é"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_detected(tmp_path, delimiter):
    data = _text(ROWS, delimiter).encode("utf-8")
    table = open_table(_write(tmp_path, "d.csv", data), "d.csv")
    assert table.delimiter == delimiter
    assert [v["email"] for _, v, _ in table.rows()] == ["zoe@example.org", "andre@example.org"]


def test_rfc4180_quotes_and_embedded_newlines_keep_line_numbers(tmp_path):
    data = ('email,display_name\r\n'
            'a@example.org,"Smith, ""Jo""\r\nsecond line"\r\n'
            'b@example.org,Plain\r\n').encode("utf-8")
    rows = list(open_table(_write(tmp_path, "q.csv", data), "q.csv").rows())
    assert rows[0][1]["display_name"] == 'Smith, "Jo"\r\nsecond line'
    assert rows[0][0] == 2
    assert rows[1][0] == 4  # the quoted newline used line 3


def test_headers_match_case_space_insensitively_with_aliases(tmp_path):
    data = _text([["E-mail", " Given name ", "SURNAME", "Email Address2", "Groups"],
                  ["a@example.org", "A", "B", "x", "g"]]).encode()
    table = open_table(_write(tmp_path, "h.csv", data), "h.csv")
    assert table.fields == ["email", "first_name", "last_name", None, "groups"]
    assert table.unknown == ["Email Address2"]


def test_email_address_alias(tmp_path):
    table = open_table(_write(tmp_path, "h.csv", b"Email Address,Family Name\na@b.org,C\n"),
                       "h.csv")
    assert table.fields == ["email", "last_name"]


def test_header_without_identifier_column_is_refused(tmp_path):
    with pytest.raises(InvalidInput) as err:
        open_table(_write(tmp_path, "n.csv", b"first_name,last_name\nA,B\n"), "n.csv")
    assert err.value.code == "no_identifier_column"


def test_empty_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput) as err:
        open_table(_write(tmp_path, "e.csv", b""), "e.csv")
    assert err.value.code == "empty_file"


def test_xlsx_is_read_in_read_only_mode(tmp_path):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["Email", "First name", "External ID"])
    ws.append(["a@example.org", "Ada", 1001])
    ws.append([None, None, None])
    ws.append(["b@example.org", "Bo", 1002])
    path = str(tmp_path / "u.xlsx")
    wb.save(path)
    table = open_table(path, "u.xlsx")
    rows = list(table.rows())
    assert [(line, v) for line, v, _ in rows] == [
        (2, {"email": "a@example.org", "first_name": "Ada", "external_id": "1001"}),
        (4, {"email": "b@example.org", "first_name": "Bo", "external_id": "1002"})]


def test_garbage_xlsx_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput) as err:
        open_table(_write(tmp_path, "x.xlsx", b"not a zip"), "x.xlsx")
    assert err.value.code == "bad_xlsx"
