"""Loopback ports for the real peers tests start (SMTP, slapd, IdPs, the app itself)."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
