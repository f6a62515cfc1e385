"""Migrations from an empty database, on SQLite and PostgreSQL, and SQLite's settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from broker_testing import START, FakeClock
from sqlalchemy import MetaData, inspect, text

from relaydesk.broker.database import MIGRATIONS, create_database_engine, migrate, open_database
from relaydesk.broker.models import Base
from relaydesk.broker.store import SessionSettings, Store, TotpState

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()

TABLES = {
    "accounts",
    "organizer_tokens",
    "recovery_codes",
    "sessions",
    "event_records",
    "relays",
    "rate_limits",
    "site_policy",
    "password_resets",
    "alembic_version",
}


def test_migrations_create_the_schema_from_empty(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == HEAD
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


def test_a_database_of_0002_is_upgraded_and_its_rows_keep_working(database_url: str) -> None:
    """Accounts, logins, live sessions and records made before 0003 work on after it,
    with the settings every session had then (unlisted, no lobby, open, join before
    host) and two-step login off."""
    engine = create_database_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    session_uid = bytes(range(16))
    at = datetime.fromtimestamp(START, UTC)
    if engine.dialect.name == "sqlite":
        at = at.replace(tzinfo=None)  # SQLite keeps UTC wall time
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            tables = MetaData()
            tables.reflect(connection)
            connection.execute(
                tables.tables["accounts"].insert(),
                {
                    "id": 1,
                    "username": "alice",
                    "password_hash": "$argon2id$old",
                    "disabled": False,
                    "created_at": at,
                },
            )
            connection.execute(
                tables.tables["organizer_tokens"].insert(),
                {
                    "token_hash": "a" * 64,
                    "account_id": 1,
                    "created_at": at,
                    "expires_at": at + timedelta(hours=1),
                },
            )
            connection.execute(
                tables.tables["sessions"].insert(),
                {
                    "session_id": "123456789",
                    "session_uid": session_uid,
                    "organizer_id": 1,
                    "password_hash": None,
                    "created_at": at,
                    "ended_at": None,
                    "settings": {},
                    "next_member_id": 3,
                },
            )
            connection.execute(
                tables.tables["event_records"].insert(),
                {
                    "session_id": "123456789",
                    "session_uid": session_uid,
                    "kind": "join",
                    "member_id": 1,
                    "display_name": "Alice",
                    "role": "host",
                    "at": at,
                    "bytes_in": 0,
                    "bytes_out": 0,
                    "detail": None,
                },
            )
        migrate(engine)
        store = Store(engine, FakeClock())
        session = store.live_session("123456789")
        assert session is not None
        assert session.settings == SessionSettings()
        assert session.settings.join_before_host and not session.locked
        assert store.allocate_member_id(session_uid) == 3
        account = store.account_for_token("a" * 64)
        assert account is not None and account.username == "alice"
        assert not account.totp_enabled
        assert store.totp_state(account.id) == TotpState(None, None, None)
        records = store.records()
        assert [(r.kind.value, r.display_name, r.email) for r in records] == [
            ("join", "Alice", None)
        ]
        assert store.joined_members(session_uid) == 1
        store.session_locked(session_uid, True, 1)
        assert store.live_session("123456789") == replace(session, locked=True)
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == HEAD
    finally:
        engine.dispose()
