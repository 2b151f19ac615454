"""CSV files we hand out: the import template, the per-row result report and credential sheets,
every cell neutralized against spreadsheet formula injection."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from .reader import FIELDS

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel,
# LibreOffice and Google Sheets (tab and CR too, which some spreadsheets strip first).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: object) -> str:
    """Prefix a would-be formula with an apostrophe so spreadsheets show it as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Stream a CSV (RFC 4180, CRLF line ends), one encoded line at a time."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    yield "\ufeff" + buf.getvalue()  # a BOM so Excel opens UTF-8 as UTF-8
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow([neutralize(v) for v in row])
        yield buf.getvalue()


TEMPLATE_EXAMPLE = [
    ["ada@example.org", "", "Ada", "Lovelace", "", "member", "Math|Year 9", "", "", "S-1001", "true"],
    ["", "grace.h", "Grace", "Hopper", "Grace Hopper", "staff", "", "", "", "S-1002", ""],
]


def template() -> str:
    """The import template: every column, with two example rows."""
    return "".join(csv_lines(list(FIELDS), TEMPLATE_EXAMPLE))
