"""Engines and migrations: SQLite (one file, WAL mode) or PostgreSQL (several brokers).

``open_database(url)`` is what the server and the admin command both call: it makes the
engine and brings the schema up to date, so either may be the first to touch a data
directory, and both may run at once. On PostgreSQL, brokers starting together take turns
under an advisory lock (``migrations/env.py``): the first migrates, the others find the
schema up to date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from relaydesk.errors import DataDirError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another process's transaction


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; ``postgresql://`` URLs use the psycopg (3) driver."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise DataDirError(f"not a database URL: {error}") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions into our own hands (see _on_begin); pysqlite's own handling
        # would begin them lazily, too late to wait for a lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer, so the admin command can work beside a
        # running server; the busy timeout makes a second writer wait instead of fail.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, waiting up to the busy timeout. A
        # deferred transaction that reads and then writes could instead fail at once
        # with SQLITE_BUSY when another process wrote in between. The broker's
        # transactions are short; serializing them costs nothing that matters here.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> Engine:
    engine = create_database_engine(url)
    migrate(engine)
    return engine
