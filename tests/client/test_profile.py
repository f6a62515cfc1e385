"""The client's profile (servers.json): commands running at once (a login while a join
pins the server) each save whole, private, and none fails on the other's file."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relaydesk.client.profile import Profile, ServerEntry


def test_saves_at_once_leave_one_whole_private_file(tmp_path: Path) -> None:
    def save(number: int) -> None:
        for round_ in range(20):
            profile = Profile(tmp_path)
            profile.put(f"https://127.0.0.{number}:8443", ServerEntry(f"{round_:02X}", "PEM"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(save, range(1, 9)))  # any exception surfaces here
    saved = json.loads((tmp_path / "servers.json").read_text())
    assert saved and all(entry["certificate"] == "PEM" for entry in saved.values())
    assert (tmp_path / "servers.json").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("*.tmp"))


def test_the_recording_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    """Made on first use (mode 0600), the same afterwards, also when several commands
    ask at once: recordings made with one profile are signed by one key."""
    with ThreadPoolExecutor(8) as pool:
        publics = set(
            pool.map(
                lambda _: Profile(tmp_path).recorder_key().public_key().public_bytes_raw(),
                range(16),
            )
        )
    assert len(publics) == 1
    assert (tmp_path / "recorder.key").stat().st_mode & 0o777 == 0o600
    again = Profile(tmp_path).recorder_key().public_key().public_bytes_raw()
    assert {again} == publics
    assert not list(tmp_path.glob(".recorder-*"))
