"""Readable usernames that are unique platform-wide and never reuse a deleted one: deleted
users keep their row (and username) in ``users``, so the unique constraint covers them."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from text_unidecode import unidecode

from ..errors import InvalidInput
from ..models import User

PREFIX_RE = re.compile(r"^[a-z][a-z0-9._-]{0,29}$")


def ascii_slug(text: str) -> str:
    """Transliterate to ASCII ("Zoë Ørsted" -> "zoe orsted") and keep letters and digits."""
    return re.sub(r"[^a-z0-9]+", " ", unidecode(text or "").lower()).strip()


def check_prefix(prefix: str) -> str:
    p = ascii_slug(prefix).replace(" ", "") if prefix else ""
    if not p or not PREFIX_RE.match(p):
        raise InvalidInput("A username prefix is 1-30 letters or digits, starting with a letter.",
                           code="invalid_prefix")
    return p


def from_name(given: str, family: str = "") -> str:
    """First name + initial of the last name, ASCII: ("Zoë", "Müller") -> "zoe.m"."""
    first = ascii_slug(given).replace(" ", "")
    initial = ascii_slug(family)[:1]
    base = f"{first}.{initial}" if first and initial else first or initial
    return base[:40] or "user"


def next_numbered(session: Session, prefix: str, count: int) -> list[str]:
    """``count`` usernames prefix+N after the highest N ever used (deleted users included)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)$")
    esc = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    top = 0
    for (name,) in session.execute(select(User.username).where(
            User.username.like(esc + "%", escape="\\"))):
        m = pattern.match(name or "")
        if m:
            top = max(top, int(m.group(1)))
    return [f"{prefix}{top + i}" for i in range(1, count + 1)]


def unique_from_names(session: Session, names: list[tuple[str, str]]) -> list[str]:
    """One username per (given, family) pair, numbered where the plain form is taken."""
    out: list[str] = []
    used: set[str] = set()
    for given, family in names:
        base = from_name(given, family)
        taken = {u for (u,) in session.execute(select(User.username).where(
            User.username.like(base.replace("_", "\\_") + "%", escape="\\")))} | used
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}{n}"
        used.add(name)
        out.append(name)
    return out
