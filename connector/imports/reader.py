"""Reading an uploaded user file as a stream of rows: CSV in any common encoding and delimiter
(RFC 4180 quoting, embedded newlines), or .xlsx through openpyxl's read-only mode."""
from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import InvalidInput

FIELDS = ("email", "username", "first_name", "last_name", "display_name", "role", "groups",
          "sub_organization", "password", "external_id", "active")
# Header names seen in exports of Google Workspace, Entra ID, Clever and school systems,
# compared after dropping case, spaces, '_', '-' and '.'.
ALIASES: dict[str, str] = {
    **{f.replace("_", ""): f for f in FIELDS},
    "mail": "email", "emailaddress": "email", "primaryemail": "email", "emailaddr": "email",
    "user": "username", "login": "username", "loginname": "username", "userprincipalname": "username",
    "givenname": "first_name", "first": "first_name", "forename": "first_name",
    "familyname": "last_name", "surname": "last_name", "last": "last_name",
    "name": "display_name", "fullname": "display_name",
    "group": "groups", "suborg": "sub_organization", "suborganisation": "sub_organization",
    "externalidentifier": "external_id", "employeeid": "external_id", "studentid": "external_id",
    "sisid": "external_id", "enabled": "active",
}
DELIMITERS = ",;\t"
CHUNK = 1 << 16


def header_key(name: str) -> str:
    return "".join(ch for ch in name.lower().lstrip("\ufeff") if ch not in " _-.\t")


@dataclass
class Table:
    """An opened file: which field each column holds, and a way to stream its rows."""

    path: str
    kind: str                      # "csv" or "xlsx"
    header: list[str]
    fields: list[str | None]       # canonical field per column, None for unknown columns
    encoding: str = ""
    delimiter: str = ","
    unknown: list[str] = field(default_factory=list)

    def lines(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, cells) per non-blank data row."""
        source = _csv_rows(self) if self.kind == "csv" else _xlsx_rows(self.path)
        next(source, None)  # the header
        for line, cells in source:
            if (text := "".join(cells)) and not text.isspace():  # (per row: kept lean)
                yield line, cells

    def rows(self) -> Iterator[tuple[int, dict[str, str], int]]:
        """(line number, {field: value}, number of cells) per non-blank data row."""
        columns = [(i, f) for i, f in enumerate(self.fields) if f]
        for line, cells in self.lines():
            n = len(cells)
            values = {f: v for i, f in columns if i < n and (v := cells[i].strip())}
            yield line, values, n


def open_table(path: str, filename: str) -> Table:
    """Open an uploaded file and match its header; raises InvalidInput with a clear message."""
    if filename.lower().endswith(".xlsx"):
        kind, enc, delim = "xlsx", "", ""
        header = next((cells for _, cells in _xlsx_rows(path)), None)
    else:
        kind, enc = "csv", detect_encoding(path)
        with open(path, encoding=enc, newline="") as fh:
            sample = fh.read(CHUNK)
        delim = detect_delimiter(sample)
        header = next((cells for _, cells in _csv_rows(Table(path, kind, [], [], enc, delim))),
                      None)
    if not header or not any(h.strip() for h in header):
        raise InvalidInput("The file is empty or has no header row.", code="empty_file")
    fields, unknown, seen = [], [], set()
    for name in header:
        f = ALIASES.get(header_key(name))
        if f in seen:
            raise InvalidInput(f"Two columns mean {f!r} (one is {name.strip()!r}).",
                               code="duplicate_column")
        if f is None and name.strip():
            unknown.append(name.strip())
        seen.add(f)
        fields.append(f)
    if not {"email", "username", "external_id"} & set(fields):
        raise InvalidInput("The header needs an email, username or external_id column "
                           f"(found: {', '.join(h.strip() for h in header if h.strip())}).",
                           code="no_identifier_column")
    return Table(path, kind, header, fields, enc, delim, unknown)


def detect_encoding(path: str) -> str:
    """BOM first; then UTF-16 without BOM (NUL pattern); then strict UTF-8 over the whole
    file, streamed; then Windows-1252; Latin-1 decodes anything and comes last."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) // 4 and even == 0:
            return "utf-16-le"
        if even > len(head) // 4 and odd == 0:
            return "utf-16-be"
    for enc in ("utf-8", "cp1252"):
        if _decodes(path, enc):
            return enc
    return "latin-1"


def _decodes(path: str, encoding: str) -> bool:
    dec = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                dec.decode(chunk)
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; tab that splits the first lines most consistently."""
    lines = [ln for ln in sample.splitlines()[:20] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return max(DELIMITERS, key=lines[0].count)


def _csv_rows(t: Table) -> Iterator[tuple[int, list[str]]]:
    with open(t.path, encoding=t.encoding, newline="") as fh:
        # RFC 4180: quotes double inside quoted fields; newlines may sit inside quotes.
        reader = csv.reader(fh, delimiter=t.delimiter, quotechar='"', doublequote=True,
                            strict=False)
        start = 1
        try:
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1
        except csv.Error as err:
            raise InvalidInput(f"Line {start}: the CSV is malformed ({err}).",
                               code="malformed_csv") from None


def _xlsx_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # zipfile/XML errors: not an xlsx we can read
        raise InvalidInput("The file is not a readable .xlsx workbook.", code="bad_xlsx") from None
    try:
        ws = wb.worksheets[0]
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            yield n, ["" if v is None else _cell(v) for v in row]
    finally:
        wb.close()


def _cell(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # Excel stores typed numbers (ids) as floats
    return str(v)


def file_size(path: str) -> int:
    return os.path.getsize(path)
