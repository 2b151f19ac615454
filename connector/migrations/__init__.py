"""Alembic migrations, run programmatically (``connector db upgrade``)."""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = os.path.dirname(__file__)


def config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", HERE)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, target: str = "heads") -> None:
    """Upgrade the database to every head (feature branches may add their own)."""
    command.upgrade(config(engine), target)


def script_heads(engine: Engine) -> set[str]:
    return set(ScriptDirectory.from_config(config(engine)).get_heads())


def current_heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def at_head(engine: Engine) -> bool:
    return current_heads(engine) == script_heads(engine)
