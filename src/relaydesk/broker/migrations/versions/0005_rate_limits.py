"""Rate limits in the database, so that every broker replica spends the same budgets.

Revision ID: 0005_rate_limits
Revises: 0004_relays
Created: 2026-12-07

One row per key of each limiter: when it stops mattering (``until``) and, for a failure
lockout, its recent failures. Limits counted in memory before the upgrade start afresh.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_rate_limits"
down_revision: str | None = "0004_relays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("limiter", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("until", sa.Double(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("limiter", "key_hash", name="pk_rate_limits"),
    )
    op.create_index("ix_rate_limits_limiter_until", "rate_limits", ["limiter", "until"])


def downgrade() -> None:
    op.drop_index("ix_rate_limits_limiter_until", table_name="rate_limits")
    op.drop_table("rate_limits")
