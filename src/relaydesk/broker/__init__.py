"""The broker (connection server): accounts, sessions, join tickets, event records.

A thin driver around ``relaydesk.protocol``: it owns the clock, the randomness and the
database, and signs tickets with ``protocol.tickets.sign_ticket``. It never sees content.

- ``models`` and ``migrations/``: the tables (SQLAlchemy 2, Alembic).
- ``database``: engines (SQLite in WAL mode, or PostgreSQL) and migrating on start.
- ``store``: the repository every query goes through; also the relay's ``RecordSink``.
- ``records``: the event record type and its CSV/JSON export (the relay reports
  through ``relaydesk.relay.records.RecordSink``, which ``store`` implements).
- ``passwords``, ``ratelimit``: argon2id hashing, token buckets and lockouts.
- ``totp``: two-step login, TOTP codes (pyotp), the QR code (segno), recovery codes.
- ``service``: ``Broker``, the rules (login, two-step login, create, join, end).
- ``schemas``, ``api``: the HTTPS API (FastAPI router): bearer token or login cookie.
"""
