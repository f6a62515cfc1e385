"""Migrations from an empty database, on SQLite and PostgreSQL, and SQLite's settings."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from relaydesk.broker.database import MIGRATIONS, create_database_engine, migrate, open_database
from relaydesk.broker.models import Base

TABLES = {"accounts", "organizer_tokens", "sessions", "event_records", "alembic_version"}


def test_migrations_create_the_schema_from_empty(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == "0002"
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


def test_a_database_of_the_first_schema_is_upgraded_with_its_records(tmp_path: Path) -> None:
    """A server made before records had a detail column keeps its records on upgrade."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'relaydesk.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            connection.execute(
                text(
                    "INSERT INTO event_records (session_id, session_uid, kind, at, bytes_in,"
                    " bytes_out) VALUES ('111222333', x'00', 'session_start',"
                    " '2026-11-23 10:00:00', 0, 0)"
                )
            )
        migrate(engine)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT kind, detail FROM event_records")).all()
        assert [tuple(row) for row in rows] == [("session_start", None)]
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
