"""Meeting settings and the lock on sessions, two-step login (TOTP, recovery codes) on
accounts, and the e-mail address on event records.

Revision ID: 0003
Revises: 0002
Created: 2026-11-30

Existing sessions keep working as before: not listed, no lobby, not two-party, no e-mail
asked, members may join before the host, not locked. Existing accounts have two-step
login off.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _flag(name: str, default: bool) -> sa.Column[bool]:
    return sa.Column(
        name, sa.Boolean(), nullable=False, server_default=sa.true() if default else sa.false()
    )


def upgrade() -> None:
    with op.batch_alter_table("sessions") as table:
        table.add_column(sa.Column("title", sa.String(100), nullable=True))
        table.add_column(_flag("listed", False))
        table.add_column(_flag("lobby", False))
        table.add_column(_flag("two_party", False))
        table.add_column(_flag("require_email", False))
        table.add_column(_flag("join_before_host", True))
        table.add_column(_flag("locked", False))
    with op.batch_alter_table("accounts") as table:
        table.add_column(sa.Column("totp_secret", sa.String(32), nullable=True))
        table.add_column(sa.Column("totp_pending_secret", sa.String(32), nullable=True))
        table.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", name="fk_recovery_codes_account_id_accounts", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("account_id", "code_hash", name="uq_recovery_codes_account_id"),
    )
    with op.batch_alter_table("event_records") as table:
        table.add_column(sa.Column("email", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_records") as table:
        table.drop_column("email")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("accounts") as table:
        for name in ("totp_last_step", "totp_pending_secret", "totp_secret"):
            table.drop_column(name)
    with op.batch_alter_table("sessions") as table:
        for name in ("locked", "join_before_host", "require_email", "two_party", "lobby"):
            table.drop_column(name)
        table.drop_column("listed")
        table.drop_column("title")
