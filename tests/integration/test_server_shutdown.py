"""``relaydesk server`` stops cleanly on SIGTERM with members connected: they are told
(WebSocket 1012, "service restart"), their leave records with byte counts are written,
the database is closed (SQLite's WAL folded back), and the process exits with status 0.
"""

from __future__ import annotations

import asyncio
import csv
import io
import signal
from pathlib import Path

from integration.helpers import (
    Crowd,
    ServerProcess,
    add_organizer,
    check,
    host_session,
    join_peer,
    log_in,
    pinned_context,
    relaydesk,
    run_async,
    terminate,
)


async def connect_then_stop(server: ServerProcess, profile: Path) -> tuple[int, list[int | None]]:
    context = pinned_context(server.url, server.fingerprint, profile)
    token = await log_in(server.url, context)
    async with Crowd() as crowd:
        created, host = await host_session(server.url, context, token)
        crowd.add(host)
        viewer = crowd.add(await join_peer(server.url, context, created.session_id, "Val"))
        await viewer.keys_for(host)
        await host.keys_for(viewer)
        # Stop from a thread: this loop must stay free to answer the closing handshakes.
        status = await asyncio.to_thread(server.process.stop, signal.SIGTERM)
        await asyncio.sleep(0)  # let the readers note the close
        codes = [peer.closed.code if peer.closed else None for peer in (host, viewer)]
    return status, codes


def test_sigterm_stops_the_server_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess.start(data)
    try:
        add_organizer(data)
        status, close_codes = run_async(connect_then_stop(server, tmp_path / "profile"))
    finally:
        terminate(server.process)
    assert status == 0, server.process.describe()
    assert close_codes == [1012, 1012]
    left_behind = sorted(path.name for path in data.iterdir())
    assert left_behind == ["broker-key.pem", "relaydesk.db", "tls"], "the database was not closed"
    records = check(relaydesk("admin", "--data", data, "records", "--csv")).stdout
    leaves = [row for row in csv.DictReader(io.StringIO(records)) if row["kind"] == "leave"]
    assert sorted(row["display_name"] for row in leaves) == ["Hannah Host", "Val"]
    assert all(int(row["bytes_in"]) > 0 and int(row["bytes_out"]) > 0 for row in leaves)
