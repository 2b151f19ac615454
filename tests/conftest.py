"""Shared fixtures: an app on a fresh database (SQLite always; PostgreSQL when
CONNECTOR_TEST_DATABASE_URL is set), migrated once per session and emptied after each test."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from connector import create_app, db, migrations
from connector.db import Base
from connector.identity import Actor

TEST_DB_URL = os.environ.get("CONNECTOR_TEST_DATABASE_URL", "")
OPERATOR = Actor.operator()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:
    if TEST_DB_URL:
        return TEST_DB_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def _migrated(db_url, tmp_path_factory):
    """Build the schema by running the migrations on an empty database."""
    app = create_app({"DATABASE_URL": db_url, "TESTING": True},
                     instance_path=str(tmp_path_factory.mktemp("instance")))
    with app.app_context():
        migrations.upgrade(db.engine())
        assert migrations.at_head(db.engine())
    return db_url


@pytest.fixture
def app(_migrated, tmp_path):
    app = create_app({"DATABASE_URL": _migrated, "TESTING": True, "SECRET_KEY": "test-secret",
                      "RATELIMIT_ENABLED": False, "JOBS_IN_PROCESS": False,
                      "BASE_URL": "http://localhost"},
                     instance_path=str(tmp_path / "instance"))
    yield app
    _empty_tables(app)
    with app.app_context():
        db.engine().dispose()


def _empty_tables(app) -> None:
    with app.app_context():
        engine = db.engine()
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                  + " RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app, monkeypatch, _migrated):
    """Run the ``connector`` command against the test database: ``cli("org", "list")``.

    ``ok=False`` accepts any exit status; ``code=N`` asserts that one."""
    from click.testing import CliRunner

    from connector.cli import main
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", _migrated)
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", app.config["SECRET_KEY"])
    monkeypatch.setenv("CONNECTOR_BASE_URL", app.config["BASE_URL"])
    runner = CliRunner()

    def run(*args: str, ok: bool = True, code: int | None = None):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output + result.stderr
        elif ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result
    return run


@pytest.fixture
def ctx(app):
    """An app context with a session; commit explicitly with ``session.commit()``."""
    with app.app_context():
        yield db.session()


@pytest.fixture
def factory(app):
    """Factories that commit: ``factory.org("acme", owner="o@acme.com")``."""
    from tests.factories import Factory
    return Factory(app)
