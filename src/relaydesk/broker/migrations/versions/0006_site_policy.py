"""Site administrators, the site policy and password reset requests.

Revision ID: 0006_site_policy
Revises: 0005_rate_limits
Created: 2026-12-09

Existing accounts are organizers, not administrators (``relaydesk admin user grant-admin
NAME`` makes one). The site policy starts as one row whose every rule is off and whose
minimum organizer password length is the built-in 12: the server behaves exactly as it
did before the upgrade until an administrator changes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_site_policy"
down_revision: str | None = "0005_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULES = (
    "require_session_password",
    "strong_passwords",
    "all_unlisted",
    "require_attendee_email",
    "restricted_access",
    "disable_sharing",
    "disable_control",
    "approve_password_resets",
)


def _off(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _number(name: str, default: int) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text(str(default)))


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it for a constant default): a batch would rebuild
    # the table, which the foreign keys of tokens and recovery codes forbid.
    op.add_column("accounts", _off("is_admin"))
    policy = op.create_table(
        "site_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        _off("require_session_password"),
        _number("min_account_password_chars", 12),
        _number("min_session_password_chars", 0),
        *(_off(name) for name in RULES if name != "require_session_password"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_site_policy"),
    )
    op.bulk_insert(policy, [{"id": 1}])
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", name="fk_password_resets_account_id_accounts", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_from", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_password_resets"),
    )
    op.create_index("ix_password_resets_account_id", "password_resets", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_password_resets_account_id", table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_table("site_policy")
    with op.batch_alter_table("accounts") as table:
        table.drop_column("is_admin")
