"""The whole journey, as people and scripts run it (issue 3, "Tests that must exist").

Every step is the installed ``relaydesk`` command in a process of its own: ``server``
(real TLS on 127.0.0.1, a port of its choosing), ``admin user add``, ``login``,
``start`` sharing an Xvfb screen on which real X clients draw (an xterm showing a unique
marker, coloured windows), and ``join --snapshot`` twice, before and after the screen
changes. Meanwhile two library members chat the marker through the relay. Then the
organizer stops ``start`` (SIGINT), the server is stopped (SIGTERM), and the tests
check the pictures, the security codes, the roster lines, the event records, and that
the marker is nowhere at rest: not in the data directory (database, WAL, keys,
certificates) and not in anything the server printed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from integration.helpers import (
    ORGANIZER,
    ORGANIZER_PASSWORD,
    Background,
    Crowd,
    ServerProcess,
    add_organizer,
    check,
    differing_pixels,
    join_peer,
    needles,
    pinned_context,
    places_holding,
    png_rgb,
    read_tree,
    relaydesk,
    run_async,
    terminate,
    until,
)
from relaydesk.protocol.messages import Chat
from support.screen import RGB, Screen

MARKER = f"relaydesk-journey-{secrets.token_hex(6)}"
PATTERN = [0xFF2200, 0x00C853, 0x2962FF, 0xFFD600, 0xAA00FF, 0x00B8D4, 0xFF6D00, 0x64DD17]
SECURITY_CODE = r"^Security code: (\d{4} \d{4} \d{4} \d{4})$"
DURATION = "4"  # seconds each viewer stays


@dataclass
class Journey:
    server: ServerProcess
    session_id: str  # "123 456 789", as start printed it
    invite_url: str
    start_lines: list[str]
    start_status: int
    joins: dict[str, subprocess.CompletedProcess[str]]  # by viewer name
    screens: dict[str, RGB]  # what was on the screen while each viewer watched
    snapshots: dict[str, RGB]
    chat_read: str
    pattern: bytes
    server_status: int
    data_while_running: dict[str, bytes]
    data_after: dict[str, bytes]
    records_csv: subprocess.CompletedProcess[str]
    records_json: subprocess.CompletedProcess[str]


async def chat_the_marker(url: str, fingerprint: str, session_id: str, profile: Path) -> str:
    """Two members joined with the library: one chats the marker, the other reads it."""
    context = pinned_context(url, fingerprint, profile)
    async with Crowd() as crowd:
        erin = crowd.add(await join_peer(url, context, session_id, "erin"))
        dave = crowd.add(await join_peer(url, context, session_id, "dave"))
        await until(lambda: len(dave.epoch_members) == 3, "dave has the keys for three")
        await until(lambda: erin.epoch_members == dave.epoch_members, "erin has them too")
        await dave.member.send_content(Chat(f"the marker is {MARKER}"))
        await until(lambda: bool(erin.messages_of(Chat)), "erin reads dave's chat")
        return erin.messages_of(Chat)[0][1].text


def _join(
    invite_or_id: str, name: str, profile: Path, snapshot: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return relaydesk(
        "join", invite_or_id, "--name", name, "--config-dir", profile,
        "--snapshot", snapshot, "--duration", DURATION, *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def journey(screen: Screen, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    tmp = tmp_path_factory.mktemp("journey")
    organizer, viewer = tmp / "organizer-profile", tmp / "viewer-profile"
    screen.background(0x1E3A5F)
    pattern = screen.stripes(360, 60, PATTERN, 24, 120)
    screen.xterm(MARKER, 20, 40)
    screens = {"bob": screen.settle()}

    server = ServerProcess.start(tmp / "data")
    start: Background | None = None
    try:
        add_organizer(server.data)
        check(relaydesk("login", server.url, ORGANIZER, "--password-stdin",
                        "--fingerprint", server.fingerprint, "--config-dir", organizer,
                        stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
        start = Background("start", "--config-dir", organizer, env=screen.server.env)
        session_id = start.wait_for_line(r"^Session ID: (\d{3} \d{3} \d{3})$").group(1)
        invite_url = start.wait_for_line(r"^Invite URL: (https://\S+)$").group(1)
        start.wait_for_line(SECURITY_CODE)

        # Bob joins by the invite URL, giving the fingerprint (his first contact).
        joins = {"bob": _join(invite_url, "bob", viewer, tmp / "bob.png",
                              "--fingerprint", server.fingerprint)}  # fmt: skip
        start.wait_for_line(r"^- bob left")

        # The screen changes: a new window, another background.
        screen.rectangle(100, 250, 200, 150, 0xFAFAFA)
        screen.background(0x4A1C1C)
        screens["carol"] = screen.settle(changed_from=screens["bob"])
        # Carol joins by ID with the profile Bob's join pinned (no fingerprint given).
        joins["carol"] = _join(session_id, "carol", viewer, tmp / "carol.png",
                               "--server", server.url)  # fmt: skip
        start.wait_for_line(r"^- carol left")

        chat_read = run_async(
            chat_the_marker(server.url, server.fingerprint, session_id, tmp / "library-profile")
        )
        start.wait_for_line(r"^- erin left")
        start.wait_for_line(r"^- dave left")
        data_while_running = read_tree(server.data)
        start_status = start.stop(signal.SIGINT)
        start_lines = list(start.stdout_lines)
        server_status = server.process.stop(signal.SIGTERM)
    finally:
        if start is not None:
            terminate(start)
        terminate(server.process)

    data_after = read_tree(server.data)
    with ThreadPoolExecutor(2) as pool:
        exports = [
            pool.submit(relaydesk, "admin", "--data", server.data, "records", option)
            for option in ("--csv", "--json")
        ]
    records_csv, records_json = (export.result() for export in exports)
    yield Journey(
        server=server,
        session_id=session_id,
        invite_url=invite_url,
        start_lines=start_lines,
        start_status=start_status,
        joins=joins,
        screens=screens,
        snapshots={
            name: png_rgb(tmp / f"{name}.png") for name in joins if (tmp / f"{name}.png").exists()
        },
        chat_read=chat_read,
        pattern=pattern,
        server_status=server_status,
        data_while_running=data_while_running,
        data_after=data_after,
        records_csv=records_csv,
        records_json=records_json,
    )


# The pictures ---------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["bob", "carol"])
def test_the_snapshot_equals_the_screen_pixel_for_pixel(journey: Journey, viewer: str) -> None:
    result = journey.joins[viewer]
    check(result)
    assert re.search(r"^Snapshot written to .*\.png$", result.stdout, re.MULTILINE)
    snapshot, screen = journey.snapshots[viewer], journey.screens[viewer]
    assert snapshot.shape == screen.shape == (480, 640, 3)
    assert differing_pixels(snapshot, screen) == 0


def test_the_second_snapshot_shows_the_change(journey: Journey) -> None:
    before, after = journey.snapshots["bob"], journey.snapshots["carol"]
    changed = differing_pixels(before, after)
    assert changed > 640 * 480 // 2  # the background changed almost everywhere
    # The new window is there, and only in the second picture.
    assert (after[250:400, 100:300] == 0xFA).all()
    assert not (before[250:400, 100:300] == 0xFA).all()


def test_the_screen_really_showed_the_xterm_and_the_pattern(journey: Journey) -> None:
    """The content the other tests look for was on the screen that was shared."""
    snapshot = journey.snapshots["bob"]
    row = np.frombuffer(journey.pattern, np.uint8).reshape(-1, 4)[:, 2::-1]
    assert np.array_equal(snapshot[100, 360 : 360 + len(row)], row)
    xterm = snapshot[40:80, 20:200]
    assert (xterm == 0xFF).all(axis=2).any() and (xterm == 0).all(axis=2).any()


# What the commands printed ------------------------------------------------------------


def test_start_and_join_print_the_same_security_code(journey: Journey) -> None:
    start_codes = {
        m.group(1) for line in journey.start_lines if (m := re.match(SECURITY_CODE, line))
    }
    for viewer, result in journey.joins.items():
        codes = re.findall(SECURITY_CODE, result.stdout, re.MULTILINE)
        assert codes, f"{viewer} printed no security code"
        assert set(codes) <= start_codes, (viewer, codes, start_codes)
    # With Bob in, the code was not the one the host had alone.
    first = re.search(SECURITY_CODE, "\n".join(journey.start_lines), re.MULTILINE)
    assert first is not None
    bob_code = re.findall(SECURITY_CODE, journey.joins["bob"].stdout, re.MULTILINE)[-1]
    assert bob_code != first.group(1)


def test_start_shows_members_joining_and_leaving(journey: Journey) -> None:
    lines = journey.start_lines
    assert re.fullmatch(r"\d{3} \d{3} \d{3}", journey.session_id)
    assert journey.invite_url.endswith("/j/" + journey.session_id.replace(" ", ""))
    assert journey.invite_url.startswith(journey.server.url + "/j/")
    for name in ("bob", "carol", "dave", "erin"):
        joined, left = f"+ {name} joined", f"- {name} left (left)"
        assert joined in lines and left in lines, lines
        assert lines.index(joined) < lines.index(left)
    assert lines.index("- bob left (left)") < lines.index("+ carol joined")
    assert lines[-1] == "The session has ended."
    assert journey.start_status == 0


def test_join_prints_what_a_viewer_needs(journey: Journey) -> None:
    for name, result in journey.joins.items():
        assert result.stdout.startswith(f"Joined session {journey.session_id} as {name}.\n")
        assert result.stderr == ""


def test_the_chat_went_through_end_to_end(journey: Journey) -> None:
    """Erin (the library) and the organizer's ``start`` both decrypted Dave's chat."""
    assert journey.chat_read == f"the marker is {MARKER}"
    assert f"[chat] dave: the marker is {MARKER}" in journey.start_lines


def test_the_server_stops_on_sigterm(journey: Journey) -> None:
    assert journey.server_status == 0, journey.server.process.describe()


# Event records ---------------------------------------------------------------------


def _csv_rows(journey: Journey) -> list[dict[str, str]]:
    check(journey.records_csv)
    return list(csv.DictReader(io.StringIO(journey.records_csv.stdout)))


def test_event_records_list_the_session_and_every_member(journey: Journey) -> None:
    rows = _csv_rows(journey)
    session_id = journey.session_id.replace(" ", "")
    assert rows and {row["session_id"] for row in rows} == {session_id}
    kinds = [row["kind"] for row in rows]
    assert kinds[0] == "session_start"
    assert kinds.count("session_start") == 1 and kinds.count("session_end") == 1
    expected = {"alice": "host", "bob": "participant", "carol": "participant",
                "dave": "participant", "erin": "participant"}  # fmt: skip
    for name, role in expected.items():
        mine = [r for r in rows if r["display_name"] == name and r["kind"] in ("join", "leave")]
        assert [row["kind"] for row in mine] == ["join", "leave"], mine
        joined, left = mine
        assert joined["role"] == left["role"] == role
        assert joined["member_id"] == left["member_id"] != ""
        assert datetime.fromisoformat(joined["at"]) <= datetime.fromisoformat(left["at"])
        assert int(left["bytes_in"]) > 0 and int(left["bytes_out"]) > 0, left
    # The viewers received the whole screen at least once: kilobytes, not bytes.
    for name in ("bob", "carol"):
        (left,) = [r for r in rows if r["display_name"] == name and r["kind"] == "leave"]
        assert int(left["bytes_out"]) > 1000
    # The host presented: that grant is on record, with who and what.
    (grant,) = [r for r in rows if r["kind"] == "grant"]
    assert (grant["display_name"], grant["role"], grant["detail"]) == (
        "alice",
        "host",
        "what=present",
    )
    end = rows[kinds.index("session_end")]
    starts = datetime.fromisoformat(rows[0]["at"])
    assert starts <= datetime.fromisoformat(end["at"])


def test_event_records_export_as_json_too(journey: Journey) -> None:
    check(journey.records_json)
    records = json.loads(journey.records_json.stdout)
    rows = _csv_rows(journey)
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert record["kind"] == row["kind"]
        assert (record["display_name"] or "") == row["display_name"]
        assert record["bytes_in"] == int(row["bytes_in"])
        assert record["bytes_out"] == int(row["bytes_out"])
        assert datetime.fromisoformat(record["at"]) == datetime.fromisoformat(row["at"])


# Nothing at rest -------------------------------------------------------------------


def test_nothing_of_the_content_is_on_the_servers_disk(journey: Journey) -> None:
    forms = needles(MARKER, journey.pattern)
    running = journey.data_while_running
    assert any(path.endswith("relaydesk.db-wal") for path in running), sorted(running)
    assert places_holding(forms, running) == []
    assert any(path.endswith("relaydesk.db") for path in journey.data_after)
    assert places_holding(forms, journey.data_after) == []


def test_nothing_of_the_content_is_in_what_the_server_printed(journey: Journey) -> None:
    forms = needles(MARKER, journey.pattern)
    process = journey.server.process
    printed = {"stdout": process.stdout.encode(), "stderr": process.stderr.encode()}
    assert "relaydesk server ready at" in process.stdout
    assert places_holding(forms, printed) == []
