"""Random secrets, their hashes, and password hashing."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type

# OWASP's argon2id parameters (m=19 MiB, t=2, p=1): ~20 ms on one core here, versus ~115 ms and
# several lanes for argon2-cffi's defaults. One lane per hash lets bulk jobs spread hashes across
# cores (issue 6) instead of each hash contending for all of them.
PASSWORDS = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                           salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return PASSWORDS.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; never raises for a bad or missing hash."""
    if not password_hash:
        # Spend the same time as a real check so timing does not reveal unknown accounts.
        PASSWORDS.hash(password)
        return False
    try:
        return PASSWORDS.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str, nbytes: int = 32) -> str:
    """A random bearer secret such as ``cnk_...``; 256 bits by default."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token. Such tokens need no slow hash: guessing is hopeless."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
