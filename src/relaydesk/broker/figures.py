"""The broker's figures for ``/metrics`` (ops/metrics.py): counts only, read from the
database at scrape time, so every replica reports the same truth."""

from __future__ import annotations

from sqlalchemy import func, select

from relaydesk.broker import models
from relaydesk.broker.store import Store


def broker_figures(store: Store) -> dict[str, float]:
    with store.engine.connect() as connection:
        live = connection.execute(
            select(func.count())
            .select_from(models.Session)
            .where(models.Session.ended_at.is_(None))
        ).scalar_one()
    return {"broker_live_sessions": float(live)}
