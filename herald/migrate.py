"""Run Alembic migrations from code (``herald migrate``, the API container, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# alembic.ini and migrations/ sit beside the package in a checkout; an installed Herald (the
# container image) keeps them in the working directory it runs in.
_CHECKOUT = Path(__file__).resolve().parent.parent
ROOT = _CHECKOUT if (_CHECKOUT / "alembic.ini").exists() else Path.cwd()


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
