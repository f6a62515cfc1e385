"""The first schema: accounts, organizer tokens, sessions, event records.

Revision ID: 0001
Revises:
Created: 2026-11-23

Written out by hand rather than built from ``models``: a migration must keep creating
the same schema after the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
    )
    op.create_table(
        "organizer_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", name="fk_organizer_tokens_account_id_accounts", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_organizer_tokens_expires_at", "organizer_tokens", ["expires_at"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.String(9), nullable=False),
        sa.Column("session_uid", sa.LargeBinary(16), nullable=False),
        sa.Column(
            "organizer_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", name="fk_sessions_organizer_id_accounts"),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("next_member_id", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("session_uid", name="uq_sessions_session_uid"),
    )
    op.create_index("ix_sessions_session_id", "sessions", ["session_id"])
    op.create_index(
        "ix_sessions_live_session_id",
        "sessions",
        ["session_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "event_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("session_id", sa.String(9), nullable=False),
        sa.Column("session_uid", sa.LargeBinary(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("display_name", sa.String(64), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_event_records_session_uid", "event_records", ["session_uid"])
    op.create_index("ix_event_records_at", "event_records", ["at"])


def downgrade() -> None:
    op.drop_table("event_records")
    op.drop_table("sessions")
    op.drop_table("organizer_tokens")
    op.drop_table("accounts")
