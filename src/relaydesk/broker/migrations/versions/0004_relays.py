"""The relays a broker places sessions on, and each session's home relay.

Revision ID: 0004_relays
Revises: 0003
Created: 2026-12-07

``relays`` holds what the operator registered (name, Ed25519 public key) and what the
relay's last heartbeat said (addresses, pin, load, when). ``last_counter`` is the highest
signed request counter accepted from it: a replayed request is refused. On ``sessions``,
``relay`` names the home relay (none until the first ticket) and ``placement`` counts how
often the session was placed, so that two broker replicas cannot place it twice.
Existing sessions have no home yet and placement 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_relays"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relays",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_counter", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("wss_url", sa.String(2048), nullable=True),
        sa.Column("tcp_address", sa.String(300), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("connections", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("public_key", name="uq_relays_public_key"),
    )
    with op.batch_alter_table("sessions") as table:
        table.add_column(sa.Column("relay", sa.String(32), nullable=True))
        table.add_column(sa.Column("placement", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as table:
        table.drop_column("placement")
        table.drop_column("relay")
    op.drop_table("relays")
