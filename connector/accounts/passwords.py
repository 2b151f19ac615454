"""Generated secrets: strong random passwords or short passphrases, hashed across the machine's
cores, and sealed at rest until their credential sheet is downloaded once."""
from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
import secrets
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from ..security import hash_password

# No 0/O, 1/l/I: people type these from a printed card.
ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 12          # 56 symbols ^ 12 ~ 70 bits
PASSPHRASE_WORDS = 3          # 1296^3 * 100 ~ 37 bits; argon2id and must-change carry the rest
WORDS_FILE = os.path.join(os.path.dirname(__file__), "words.txt")
INLINE_BELOW = 4              # a pool is not worth starting for a handful of hashes


@lru_cache(maxsize=1)
def words() -> tuple[str, ...]:
    with open(WORDS_FILE, encoding="utf-8") as fh:
        # Letters only: the words are joined with "-" (the EFF list's "yo-yo" is "yoyo" here).
        return tuple(w.strip() for w in fh if w.strip().isalpha())


def new_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password; always has a lower-case letter, an upper-case letter and a digit."""
    while True:
        pw = "".join(secrets.choice(ALPHABET) for _ in range(length))
        if any(c.islower() for c in pw) and any(c.isupper() for c in pw) \
                and any(c.isdigit() for c in pw):
            return pw


def new_passphrase(n_words: int = PASSPHRASE_WORDS) -> str:
    """Short words and two digits, e.g. ``acorn-tulip-robin-42``, for young learners."""
    w = words()
    return "-".join(secrets.choice(w) for _ in range(n_words)) + f"-{secrets.randbelow(90) + 10}"


class Hasher:
    """argon2id hashing spread over processes (each hash uses one lane: security.PASSWORDS)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def hash_many(self, passwords: list[str]) -> list[str]:
        if len(passwords) < INLINE_BELOW or self.workers == 1:
            return [hash_password(p) for p in passwords]
        if self._pool is None:
            # forkserver: never fork a process that runs web or loop threads.
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("forkserver"))
        size = max(1, len(passwords) // (self.workers * 4))
        return list(self._pool.map(hash_password, passwords, chunksize=size))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> Hasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fernet() -> Fernet:
    key = hashlib.sha256(b"connector credential sheets\0"
                         + current_app.config["SECRET_KEY"].encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    """Encrypt a generated password for storage until its sheet is downloaded."""
    return _fernet().encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        return None  # the secret key changed: the sheet cannot be recovered, reset instead
