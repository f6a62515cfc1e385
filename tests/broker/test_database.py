"""Migrations from an empty database, on SQLite and PostgreSQL, and SQLite's settings."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from relaydesk.broker.database import create_database_engine, migrate, open_database
from relaydesk.broker.models import Base

TABLES = {"accounts", "organizer_tokens", "sessions", "event_records", "alembic_version"}


def test_migrations_create_the_schema_from_empty(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == "0001"
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """The hand-written migration and the models describe the same tables."""
    engine = open_database(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_migrating_again_changes_nothing(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        migrate(engine)
        migrate(engine)
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'relaydesk.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg() -> None:
    engine = create_database_engine("postgresql://postgres@127.0.0.1:5432/test")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()
