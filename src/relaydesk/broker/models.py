"""The broker's tables. Changing one needs a new migration in ``migrations/versions/``.

What is stored is what ARCHITECTURE.md lists for the server side, and nothing else:
password hashes (never passwords), hashes of login tokens (never tokens), organizers'
TOTP secrets and the SHA-256 of their recovery codes (never the codes), sessions and
event records holding metadata only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from relaydesk import limits
from relaydesk.relay.records import MAX_DETAIL_CHARS

SESSION_ID_DIGITS = 9
SESSION_UID_BYTES = 16
TOKEN_HASH_CHARS = 64  # SHA-256, hex
MAX_HASH_CHARS = 255  # an argon2 hash in PHC string form is about 100 characters
MAX_KIND_CHARS = 16
MAX_ROLE_CHARS = 16
MAX_TITLE_CHARS = 100  # a session's title, as listed and shown to whoever joins
MAX_TCP_ADDRESS_CHARS = 300  # "host:port" of a relay's direct TLS transport
FINGERPRINT_CHARS = 64  # SHA-256 of a TLS certificate, hex
RELAY_KEY_BYTES = 32  # an Ed25519 public key, raw
TOTP_SECRET_CHARS = 32  # base32 of 160 bits (RFC 4226's recommended secret length)
RECOVERY_CODE_HASH_CHARS = 64  # SHA-256, hex
MAX_LIMITER_CHARS = 32  # a rate limiter's name, e.g. "join_lockout.fail"
RATE_KEY_HASH_CHARS = 64  # SHA-256 of a rate limit's key, hex
RESET_CODE_HASH_CHARS = 64  # SHA-256 of a password reset code, hex
MAX_ADDRESS_CHARS = 64  # a client address as the broker saw it (IPv6 fits)
MAX_RESET_STATE_CHARS = 16  # pending, approved, denied, used
SITE_POLICY_ROW = 1  # the site policy is one row, with this id

# Event record ids grow without bound: 64 bits on PostgreSQL; SQLite's INTEGER PRIMARY KEY
# is 64 bits already, and only that exact spelling makes it the rowid.
RecordId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out, on every database.

    SQLite has no time zones: it stores UTC wall time and gives back naive values,
    which are UTC by construction here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Constraint names are spelled out, so that the migrations can name them alike on every
# database (and a later migration can drop one by name).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    """An organizer: may log in, create sessions and join them as host."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(limits.MAX_USERNAME_CHARS), unique=True)
    password_hash: Mapped[str] = mapped_column(String(MAX_HASH_CHARS))  # argon2id
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Two-step login (TOTP, RFC 6238): the confirmed secret (base32) once it is on; a
    # pending one between enrolment and its first code; the time step of the last code
    # accepted, so that no code is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(TOTP_SECRET_CHARS))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(TOTP_SECRET_CHARS))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # A site administrator: may use the admin API (/api/admin/...) with its login.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SitePolicy(Base):
    """The site policy an administrator sets and organizers cannot override (one row,
    ``id`` = SITE_POLICY_ROW; every broker replica reads the same). Its columns and their
    meaning: ``broker/policy.py``."""

    __tablename__ = "site_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    require_session_password: Mapped[bool] = mapped_column(Boolean, server_default=false())
    min_account_password_chars: Mapped[int] = mapped_column(
        Integer, server_default=text(str(limits.MIN_ACCOUNT_PASSWORD_CHARS))
    )
    min_session_password_chars: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    strong_passwords: Mapped[bool] = mapped_column(Boolean, server_default=false())
    all_unlisted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    require_attendee_email: Mapped[bool] = mapped_column(Boolean, server_default=false())
    restricted_access: Mapped[bool] = mapped_column(Boolean, server_default=false())
    disable_sharing: Mapped[bool] = mapped_column(Boolean, server_default=false())
    disable_control: Mapped[bool] = mapped_column(Boolean, server_default=false())
    approve_password_resets: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(limits.MAX_USERNAME_CHARS))


class PasswordReset(Base):
    """An organizer's request for a new password (docs/operators.md, "Password resets"):
    pending until an administrator approves or denies it; approving makes a one-time
    reset code, of which only the SHA-256 is kept, until it is used or expires."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_from: Mapped[str] = mapped_column(String(MAX_ADDRESS_CHARS))
    state: Mapped[str] = mapped_column(String(MAX_RESET_STATE_CHARS))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(limits.MAX_USERNAME_CHARS))
    code_hash: Mapped[str | None] = mapped_column(String(RESET_CODE_HASH_CHARS))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """A one-time recovery code of an account with two-step login: only its SHA-256 is
    kept, and ``used_at`` once it has been used (it never works again)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(RECOVERY_CODE_HASH_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Also the index that finds an account's codes.
    __table_args__ = (
        UniqueConstraint("account_id", "code_hash", name="uq_recovery_codes_account_id"),
    )


class OrganizerToken(Base):
    """A login: only the SHA-256 of the bearer token is kept, so a copy of the
    database lets nobody act as an organizer."""

    __tablename__ = "organizer_tokens"

    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_CHARS), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Session(Base):
    """A session's admission data. ``session_id`` (9 digits, what people type) is unique
    among live sessions only and reused later; ``session_uid`` is unique forever."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_DIGITS), index=True)
    session_uid: Mapped[bytes] = mapped_column(LargeBinary(SESSION_UID_BYTES), unique=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    password_hash: Mapped[str | None] = mapped_column(String(MAX_HASH_CHARS))  # argon2id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # unused so far
    # What the organizer chose when creating it (docs/operators.md, "Sessions").
    title: Mapped[str | None] = mapped_column(String(MAX_TITLE_CHARS))
    listed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lobby: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    two_party: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    require_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    join_before_host: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Set by a host in the meeting (the relay reports it): nobody new may join.
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The next member id to hand out; member ids are never reused within a session,
    # because clients bind keys to them (docs/protocol.md §2.2).
    next_member_id: Mapped[int] = mapped_column(BigInteger, default=1)
    # The home relay (Relay.name) once its first ticket is issued, and how often it was
    # placed: tickets carry both; placing again is a compare-and-set on ``placement``.
    relay: Mapped[str | None] = mapped_column(String(limits.MAX_RELAY_NAME_CHARS))
    placement: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (
        # The database, not a check-then-insert, keeps live IDs unique: safe with
        # several brokers on one PostgreSQL.
        Index(
            "ix_sessions_live_session_id",
            "session_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class Relay(Base):
    """A relay the operator registered, with what its last heartbeat said."""

    __tablename__ = "relays"

    name: Mapped[str] = mapped_column(String(limits.MAX_RELAY_NAME_CHARS), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(RELAY_KEY_BYTES), unique=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The highest signed request counter accepted: a request must carry a larger one.
    last_counter: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    wss_url: Mapped[str | None] = mapped_column(String(limits.MAX_RELAY_URL_CHARS))
    tcp_address: Mapped[str | None] = mapped_column(String(MAX_TCP_ADDRESS_CHARS))
    fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_CHARS))
    connections: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventRecord(Base):
    """One event detail record: who was in which session when, how many bytes, and
    each consent, grant, revoke and refusal (``detail``).
    Metadata only; never content. Kept after the session (no foreign key)."""

    __tablename__ = "event_records"

    id: Mapped[int] = mapped_column(RecordId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_DIGITS))
    session_uid: Mapped[bytes] = mapped_column(LargeBinary(SESSION_UID_BYTES), index=True)
    kind: Mapped[str] = mapped_column(String(MAX_KIND_CHARS))
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    display_name: Mapped[str | None] = mapped_column(String(limits.MAX_DISPLAY_NAME_CHARS))
    # The e-mail address the member gave when joining (in its ticket), if any.
    email: Mapped[str | None] = mapped_column(String(limits.MAX_EMAIL_CHARS))
    role: Mapped[str | None] = mapped_column(String(MAX_ROLE_CHARS))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[str | None] = mapped_column(String(MAX_DETAIL_CHARS))


class RateLimit(Base):
    """One key of one rate limiter (``broker/ratelimit.py``), shared by every broker on the
    database. ``until`` is when the row stops mattering (a token bucket is full again, a
    lock ends, remembered failures leave their window): it may be pruned after that. The
    key (an address, a username, a session ID) is kept as its SHA-256 only."""

    __tablename__ = "rate_limits"

    limiter: Mapped[str] = mapped_column(String(MAX_LIMITER_CHARS), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(RATE_KEY_HASH_CHARS), primary_key=True)
    until: Mapped[float] = mapped_column(Double)  # Unix seconds
    failures: Mapped[list[float] | None] = mapped_column(JSON)  # a lockout's recent failures

    # Pruning and eviction find a limiter's rows by ``until``.
    __table_args__ = (Index("ix_rate_limits_limiter_until", "limiter", "until"),)
