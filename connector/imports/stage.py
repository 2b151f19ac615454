"""Staging an import: the file's rows go to import_rows chunk by chunk, each chunk in the same
transaction as its outcomes (job.py). Memory stays flat however large the file: nothing
per-row is kept in Python beyond a few chunks.

Staging is on the import's hot path (issue 6 benchmark): a forked process reads the file,
finds duplicates inside it (``Keys``, a scratch SQLite file) and builds the rows while this one
writes the previous chunk; rows are written as plain lists by the driver (executemany on
SQLite, COPY on PostgreSQL), not through SQLAlchemy's per-row parameter processing."""
from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from ..errors import LimitReached
from ..identity import Outcome
from ..pipeline import bulk
from ..pipeline.normalize import normalize_email, normalize_username
from .models import DERIVED
from .reader import Table

TRUE, FALSE = {"true", "yes", "y", "1", "active", "on"}, {"false", "no", "n", "0", "inactive", "off"}
# Rows with only these cells (and active not false) may take the pipeline's set-based create.
SIMPLE = frozenset({"email", "username", "first_name", "last_name", "display_name", "role",
                    "external_id", "active"})
COLUMNS = ("job_id", "line", "data", "email_key", "username_key", "external_key", "status",
           "reason", "field", "message", "bulk", "given_name", "family_name", "display_name",
           "role_key", "user_id")
DATA, EMAIL, USERNAME, STATUS, MESSAGE, BULK, USER_ID = 2, 3, 4, 6, 9, 10, 15  # in COLUMNS
# Chunks received ahead of the one being written (see chunks).
AHEAD = 2
# What provision reports for a new account (its changes), so both paths read the same.
CREATED_MESSAGE = "membership"
# The keys a row is matched and deduplicated by: column, name in messages, position, size.
KEYS = (("email_key", "email", EMAIL, 320), ("username_key", "username", USERNAME, 150),
        ("external_key", "external_id", 5, 300))


def count_rows(table: Table, limit: int) -> int:
    """Read the whole file once before anything is written: the row limit and a malformed
    line fail the job while nothing is done yet, and progress knows its total."""
    n = 0
    for _ in table.lines():
        n += 1
        if n > limit:
            raise LimitReached(f"The file has more than {limit:,} rows, the limit; split it into "
                               "several files.", code="too_many_rows")
    return n


def chunks(table: Table, job_id: int, after: int, size: int, keys: str, *,
           sqlite: bool = False, presumed: bool = False) -> Iterator[list[list[Any]]]:
    """Staged rows after line ``after``, ``size`` at a time, in-file duplicates marked
    (``Keys``, in the scratch file ``keys``; see ``staged`` for ``sqlite`` and ``presumed``).
    A forked process parses the file while this one writes the previous chunk (threads would
    share one GIL). A thread here receives and unpickles the next chunks while this one is
    inside the database driver, which releases the GIL; with the pipe, at most ``AHEAD`` + 2
    chunks are on their way, so memory stays flat. Without fork, parsing runs inline."""
    options = (keys, sqlite, presumed)
    if "fork" not in multiprocessing.get_all_start_methods():
        yield from _produce(table, job_id, after, size, options)
        return
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_send_all, args=(table, job_id, after, size, options, send, recv),
                        name="import-reader", daemon=True)
    child.start()
    send.close()
    ready: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)

    def receive() -> None:
        try:
            while True:
                ready.put(item := recv.recv())
                if item is None or isinstance(item, str):
                    return
        except (EOFError, OSError) as err:  # the reader is gone
            ready.put(f"{type(err).__name__}: {err}")

    receiver = threading.Thread(target=receive, name="import-receiver", daemon=True)
    receiver.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, str):
                raise RuntimeError(f"reading the file failed: {item}")
            yield item
    finally:
        if child.is_alive():
            child.terminate()  # its end of the pipe closes: the receiver stops
        child.join()
        while receiver.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)  # room for its last word
        recv.close()
        Keys.remove(keys)  # a terminated reader leaves its scratch file


def _produce(table: Table, job_id: int, after: int, size: int,
             options: tuple[str, bool, bool]) -> Iterator[list[list[Any]]]:
    """Every line is staged and its keys recorded, from the first: a resumed job's later
    lines are judged against the earlier ones; only the lines after ``after`` are yielded."""
    path, sqlite, presumed = options
    with Keys(path, sqlite) as keys:
        buf: list[list[Any]] = []
        for line, values, _cells in table.rows():
            buf.append(staged(job_id, line, values, sqlite, presumed))
            if len(buf) >= size:
                keys.mark(buf)
                if buf[-1][1] > after:
                    yield [row for row in buf if row[1] > after]
                buf = []
        if buf:
            keys.mark(buf)
            if buf[-1][1] > after:
                yield [row for row in buf if row[1] > after]


class Keys:
    """The email, username and external id of every line read so far, in a scratch SQLite
    file beside the upload, never a Python set: a line repeating an earlier line's key is a
    duplicate inside the file, rejected with the earlier line's number. Which line is a
    duplicate depends on the file alone (the first occurrence wins), so the file is rebuilt
    from the first line when a job resumes, and removed when the reading ends. Done here,
    in the reader, the writing process neither checks every row nor keeps key indexes on
    import_rows (issue 6 benchmark)."""

    def __init__(self, path: str, sqlite: bool) -> None:
        self.path, self.null_id = path, 0 if sqlite else None
        self.remove(path)
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF"):
            self.db.execute(f"PRAGMA {pragma}")  # scratch: rebuilt whenever it is needed
        self.db.execute("CREATE TABLE keys (kind INTEGER, key TEXT, line INTEGER, "
                        "PRIMARY KEY (kind, key)) WITHOUT ROWID")

    def __enter__(self) -> Keys:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.db.close()
        self.remove(self.path)

    @staticmethod
    def remove(path: str) -> None:
        for suffix in ("", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + suffix)

    def mark(self, rows: list[list[Any]]) -> None:
        """Record the keys of ``rows`` (consecutive lines, after every line recorded so far)
        and reject the undecided rows that repeat a key of an earlier line."""
        # In line order within each kind, so a key's first line is the one recorded.
        entries = [(kind, row[i], row[1]) for kind, (_key, _name, i, _size) in enumerate(KEYS)
                   for row in rows if row[i]]
        db, before = self.db, self.db.total_changes
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO keys VALUES (?, ?, ?)", entries)
        db.execute("COMMIT")
        if db.total_changes - before == len(entries):
            return  # every key is new: no line of the chunk repeats one (the usual case)
        by_line = {row[1]: row for row in rows}  # this chunk's rows only
        decided: set[int] = set()
        # Per line, its first repeated key in KEYS order (email, username, external id).
        for kind, key, line in sorted(entries, key=lambda e: (e[2], e[0])):
            if line in decided:
                continue
            (first,) = db.execute("SELECT line FROM keys WHERE kind = ? AND key = ?",
                                  (kind, key)).fetchone()
            if first == line:
                continue
            decided.add(line)
            row = by_line[line]
            if row[STATUS] and row[STATUS] != Outcome.CREATED.value:
                continue  # already rejected for a reason of its own
            name = KEYS[kind][1]
            row[STATUS:MESSAGE + 1] = (Outcome.REJECTED.value, "duplicate_in_file", name,
                                       f"Same {name} as line {first}.")
            row[USER_ID] = self.null_id


def _send_all(table: Table, job_id: int, after: int, size: int, options: tuple[bool, bool],
              send: Any, recv: Any) -> None:
    """The forked reader: chunks down the pipe, then None (or the error, as text). It touches
    nothing it inherited but the file's path. Its copy of the pipe's reading end is closed at
    once, so a parent that dies (SIGKILL) breaks the pipe and the reader exits, closing the
    database sockets it inherited; otherwise the dead parent's transaction would stay open."""
    recv.close()
    try:
        for chunk in _produce(table, job_id, after, size, options):
            send.send(chunk)
        send.send(None)
    except BrokenPipeError:
        pass
    except Exception as err:  # the file was read once already (count_rows); unexpected
        send.send(f"{type(err).__name__}: {err}")


def staged(job_id: int, line: int, values: dict[str, str], sqlite: bool = False,
           presumed: bool = False) -> list[Any]:
    """One import_rows row, as a list in COLUMNS order.

    ``sqlite``: absent values are "" (0 for user_id) and booleans are 0/1, turned back into
    NULL by ``insert``'s NULLIF: Python's sqlite3 binds str and int directly but sends None
    and bool through its adapter lookup, which made binding these rows cost about as much
    as writing them (measured: 16 columns 1.0 s, the same with no None 0.6 s per 100,000).
    ``presumed``: a candidate for the set-based create is staged as created (its reserved
    account id comes later: ``presume``). A candidate with only derivable cells is staged
    without them (``data`` NULL; models.cells)."""
    null = "" if sqlite else None
    email, username = values.get("email"), values.get("username")
    row: list[Any] = [job_id, line, null, normalize_email(email) or null,
                      normalize_username(username) or null, values.get("external_id") or null,
                      null, null, null, "", False, null, null, null, null, 0 if sqlite else None]
    active = values.get("active", "").lower()
    if active and active not in TRUE and active not in FALSE:
        row[STATUS:MESSAGE + 1] = (Outcome.REJECTED.value, "invalid_active", "active",
                                   f"active is {values['active']!r}; use true or false.")
    for key, _name, i, size in KEYS:
        if row[i] and len(row[i]) > size:
            name = key[:-4]
            row[STATUS:MESSAGE + 1] = (Outcome.REJECTED.value, "too_long", name,
                                       f"The {name} is longer than {size} characters.")
            row[i] = null
    if not row[STATUS] and active not in FALSE and values.keys() <= SIMPLE:
        ready = bulk.prepare(row[EMAIL], row[USERNAME], values.get("first_name"),
                             values.get("last_name"), values.get("display_name"),
                             values.get("role"), normalized=True)
        if ready is not None:
            row[BULK:USER_ID] = (True, *ready[2:5], ready[5] or null)  # bulk, names, role
            if presumed:
                row[STATUS], row[MESSAGE] = Outcome.CREATED.value, CREATED_MESSAGE
    if not (row[BULK] and values.keys() <= DERIVED.keys()):
        # Every other row keeps its cells as read. (For the rest, encoding them was most of
        # the reader's time; models.cells gives them back from the columns.)
        row[DATA] = json.dumps(values)
    if sqlite:
        row[BULK] = int(row[BULK])
    return row


def staged_as_created(chunk: list[list[Any]]) -> list[list[Any]]:
    """The chunk's rows staged as created (candidates for the set-based create), in order."""
    return [row for row in chunk if row[BULK] and row[STATUS] == Outcome.CREATED.value]


def presume(rows: list[list[Any]], ids: list[int]) -> None:
    """Give each row staged as created its reserved account id."""
    for row, user_id in zip(rows, ids, strict=True):
        row[USER_ID] = user_id


# Columns staged "" (or 0) for NULL on SQLite (see staged).
NULLABLE = {**dict.fromkeys(("data", "email_key", "username_key", "external_key", "status",
                             "reason", "field", "role_key"), "''"), "user_id": "0"}
SQLITE_INSERT = (f"INSERT INTO import_rows ({', '.join(COLUMNS)}) VALUES ("
                 + ", ".join(f"NULLIF(?, {NULLABLE[c]})" if c in NULLABLE else "?"
                             for c in COLUMNS) + ")")


def insert(s: Session, rows: list[list[Any]]) -> None:
    """Write staged rows (``staged``, for this database) in the caller's transaction."""
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f"COPY import_rows ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cur = conn.connection.driver_connection.cursor()  # lists, straight to the driver
        try:
            cur.executemany(SQLITE_INSERT, rows)
        finally:
            cur.close()
