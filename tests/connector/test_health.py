from __future__ import annotations

from sqlalchemy import text

from connector import db


def test_healthz_answers_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_readyz_reports_migrations_at_head(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_readyz_is_503_when_a_migration_is_pending(app, client):
    with app.app_context():
        with db.engine().begin() as conn:
            old = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            conn.execute(text("DELETE FROM alembic_version"))  # as if never migrated
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.get_json()["checks"]["migrations"] == "pending"
    finally:
        with app.app_context():
            with db.engine().begin() as conn:
                conn.execute(text("DELETE FROM alembic_version"))
                for v in old:
                    conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": v})
