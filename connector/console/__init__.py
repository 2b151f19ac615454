"""The admin console and the sign-in pages: server-rendered, thin views over the core services."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__)

# Route modules, imported explicitly so the routing table is easy to find (one per page group).
from . import common, signin, passwords, overview, members, structure, access, settings  # noqa: E402,F401,I001
