"""The Python client trusts exactly the certificate it was told about (issue 3; docs/
operators.md "Trusting a server"): a wrong ``--fingerprint`` is refused, nobody at a
terminal and no pin means no connection, and a pinned server whose certificate changed
is refused with a clear "CHANGED" message, by every command that connects.

The commands run as the installed ``relaydesk`` script with standard input a pipe or
/dev/null (never a terminal); the servers are real EmbeddedServers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from integration.helpers import ORGANIZER, ORGANIZER_PASSWORD, check, relaydesk
from support.servers import LiveServer


def _wrong(fingerprint: str) -> str:
    """The same fingerprint with its first digit changed."""
    first = "0" if fingerprint[0] != "0" else "1"
    return first + fingerprint[1:]


def _in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def _pins(profile: Path) -> dict[str, str]:
    path = profile / "servers.json"
    if not path.exists():
        return {}
    return {url: entry["fingerprint"] for url, entry in json.loads(path.read_text()).items()}


def _refused(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.startswith("relaydesk: "), result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr
    assert "Logged in" not in result.stdout
    assert "Joined" not in result.stdout


def test_a_wrong_fingerprint_or_none_at_all_is_refused(
    shared_server: LiveServer, tmp_path: Path
) -> None:
    url, real = shared_server.url, shared_server.fingerprint
    wrong = _wrong(real)
    invite = f"{url}/j/123456789"
    login_wrong, join_wrong, login_unpinned, join_unpinned = _in_parallel(
        lambda: relaydesk("login", url, ORGANIZER, "--password-stdin", "--fingerprint", wrong,
                          "--config-dir", tmp_path / "a", stdin=ORGANIZER_PASSWORD + "\n"),
        lambda: relaydesk("join", invite, "--name", "Bob", "--fingerprint", wrong,
                          "--config-dir", tmp_path / "b"),
        lambda: relaydesk("login", url, ORGANIZER, "--password-stdin",
                          "--config-dir", tmp_path / "c", stdin=ORGANIZER_PASSWORD + "\n"),
        lambda: relaydesk("join", invite, "--name", "Bob", "--config-dir", tmp_path / "d"),
    )  # fmt: skip
    for result in (login_wrong, join_wrong):
        _refused(result, f"fingerprint is {real}, not {wrong} as given: refusing to connect")
    for result in (login_unpinned, join_unpinned):
        _refused(result, f"{url} is not trusted yet and nobody can confirm it here",
                 "--fingerprint")  # fmt: skip
    for profile in "abcd":
        assert _pins(tmp_path / profile) == {}, "nothing may be pinned after a refusal"


def test_a_changed_certificate_is_refused_by_every_command(
    live_servers: Callable[..., LiveServer], tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    first = live_servers(tmp_path / "first")
    url, port, pinned = first.url, first.port, first.fingerprint
    check(relaydesk("login", url, ORGANIZER, "--password-stdin", "--fingerprint", pinned,
                    "--config-dir", profile, stdin=ORGANIZER_PASSWORD + "\n"))  # fmt: skip
    assert _pins(profile) == {url: pinned}

    # The same address now answers with another certificate (another data directory).
    first.stop()
    second = live_servers(tmp_path / "second", organizer=False, port=port)
    assert second.url == url
    assert second.fingerprint != pinned
    changed = (
        f"the certificate of {url} has CHANGED since you trusted it "
        f"(was {pinned}, now {second.fingerprint})"
    )
    login, join, start = _in_parallel(
        lambda: relaydesk("login", url, ORGANIZER, "--password-stdin", "--config-dir", profile,
                          stdin=ORGANIZER_PASSWORD + "\n"),
        lambda: relaydesk("join", "123 456 789", "--server", url, "--name", "Bob",
                          "--config-dir", profile),
        lambda: relaydesk("start", "--config-dir", profile, env={"PATH": "/usr/bin:/bin"}),
    )  # fmt: skip
    for result in (login, join, start):
        _refused(result, changed, "--fingerprint")
    assert _pins(profile) == {url: pinned}, "a refused certificate must not replace the pin"

    # Told the new fingerprint, the client trusts the new certificate and pins it: the
    # join gets as far as the broker (which knows no such session).
    accepted = relaydesk("join", "123 456 789", "--server", url, "--name", "Bob",
                         "--fingerprint", second.fingerprint, "--config-dir", profile)  # fmt: skip
    assert accepted.returncode == 1
    assert accepted.stderr == "relaydesk: No session with that ID and password.\n"
    assert _pins(profile) == {url: second.fingerprint}
