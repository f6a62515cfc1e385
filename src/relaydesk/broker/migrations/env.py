"""Alembic's entry point for the broker's migrations.

Run by ``relaydesk.broker.database.migrate`` on every start, with the connection to use
in ``config.attributes["connection"]``. Developers making a new revision use
``alembic -x url=sqlite:///dev.db revision --autogenerate`` with a config file whose
``script_location`` points here (see docs/operators.md, "For developers").
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from relaydesk.broker.models import Base

# A constant key for PostgreSQL's advisory lock: brokers starting together against one
# database take turns, so a migration never runs twice at once.
MIGRATION_LOCK_KEY = 0x7265_6C61_7964_6B  # "relaydk"


def run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batches.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("relaydesk migrations run online only")
    config = context.config
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database with -x url=... or sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as connection:
        run(connection)


main()
