"""Migrations build the schema the models describe, both ways."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from tests.conftest import alembic_config


def test_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    config = alembic_config(url)

    command.upgrade(config, "0001")
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("users")}
        assert "full_name" not in columns and "is_active" not in columns

        command.upgrade(config, "head")
        # Same check as `alembic check`: raises if models and schema differ.
        command.check(config)
        columns = {c["name"] for c in inspect(engine).get_columns("users")}
        assert {"full_name", "is_active"} <= columns

        command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
