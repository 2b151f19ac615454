"""Secrets we must read back (OIDC client secrets, SP private keys, LDAP bind passwords), kept
encrypted at rest with a Fernet key derived from the app's SECRET_KEY."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from .errors import ConnectorError

PREFIX = "fernet:"


def _fernet(secret_key: str | None = None, purpose: str = "connector.secretbox") -> Fernet:
    """HKDF-SHA256 of SECRET_KEY, bound to a purpose so other uses of the key never collide."""
    key = secret_key if secret_key is not None else current_app.config["SECRET_KEY"]
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=purpose.encode()).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def seal(plaintext: str, *, secret_key: str | None = None) -> str:
    """Encrypt ``plaintext``; the result is ASCII, safe for a String column."""
    if plaintext == "":
        return ""
    return PREFIX + _fernet(secret_key).encrypt(plaintext.encode()).decode()


def open_(sealed: str, *, secret_key: str | None = None) -> str:
    """Decrypt what ``seal`` produced; a wrong SECRET_KEY is a readable configuration error."""
    if sealed == "":
        return ""
    if not sealed.startswith(PREFIX):
        raise ConnectorError("A stored secret is not encrypted; re-enter it.",
                             code="secret_not_sealed")
    try:
        return _fernet(secret_key).decrypt(sealed[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise ConnectorError("A stored secret cannot be decrypted: was SECRET_KEY changed? "
                             "Re-enter the secret.", code="secret_unreadable") from None


# ``open`` shadows the builtin inside this module only; callers write secretbox.open(...).
open = open_  # noqa: A001
