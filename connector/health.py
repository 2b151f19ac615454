"""/healthz (the process is up) and /readyz (database reachable, migrations at head)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from . import db, migrations

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    checks: dict[str, str] = {}
    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if migrations.at_head(db.engine()) else "pending"
    except Exception as exc:  # report, never raise: this is what the load balancer polls
        checks.setdefault("database", f"error: {type(exc).__name__}")
    ready = all(v == "ok" for v in checks.values()) and len(checks) == 2
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), \
        200 if ready else 503
