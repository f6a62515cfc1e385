"""A wrong password and an unknown session ID get the same clear refusal from
``relaydesk join``; too many attempts are throttled (issue 3; SECURITY.md "Outsider
guessing": no oracle telling "exists" apart from "wrong password").

A server of this module's own (the attempts use up its rate limits): the real
EmbeddedServer in a background thread, an organizer made with the admin CLI, a session
with a password. The joins run as the installed ``relaydesk`` command.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.helpers import (
    add_organizer,
    log_in,
    pinned_context,
    relaydesk,
    run_async,
)
from relaydesk import limits
from relaydesk.client.api import BrokerApi, CreatedSession
from relaydesk.errors import ApiError
from relaydesk.protocol.keys import MemberKeys
from support.servers import LiveServer

SESSION_PASSWORD = "open sesame"
REFUSED = "relaydesk: No session with that ID and password.\n"


@dataclass
class Target:
    server: LiveServer
    context: ssl.SSLContext
    session: CreatedSession
    unknown_id: str  # a well-formed session ID no live session has
    profile: Path

    def join(self, where: str, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return relaydesk(
            "join", where, "--name", "Mallory", "--password-stdin", "--duration", "1",
            "--fingerprint", self.server.fingerprint, "--config-dir", self.profile, *extra,
            stdin=password + "\n",
        )  # fmt: skip


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = tmp_path_factory.mktemp("refusing-server")
    add_organizer(data)
    server = LiveServer(data).start()
    try:
        context = pinned_context(server.url, server.fingerprint, tmp_path_factory.mktemp("p"))

        async def create() -> CreatedSession:
            token = await log_in(server.url, context)
            async with BrokerApi(server.url, context, token) as api:
                return await api.create_session(None, SESSION_PASSWORD)

        session = run_async(create())
        unknown = "987654321" if session.session_id != "987654321" else "987654322"
        yield Target(server, context, session, unknown, tmp_path_factory.mktemp("mallory"))
    finally:
        server.stop()


def test_wrong_password_and_unknown_id_get_the_same_clear_refusal(target: Target) -> None:
    spaced = f"{target.unknown_id[:3]} {target.unknown_id[3:6]} {target.unknown_id[6:]}"
    with ThreadPoolExecutor(2) as pool:
        wrong_password = pool.submit(target.join, target.session.invite_url, "guessed wrong")
        unknown_id = pool.submit(
            target.join, spaced, SESSION_PASSWORD, "--server", target.server.url
        )
    for result in (wrong_password.result(), unknown_id.result()):
        assert result.returncode == 1, result
        assert result.stderr == REFUSED
        assert "Joined" not in result.stdout


def _fail_until_throttled(target: Target, session_id: str) -> tuple[int, str]:
    """Join with wrong passwords through the API until the broker answers 429; the
    number of refusals before that, and the 429's text."""

    async def attempts() -> tuple[int, str]:
        refused = 0
        keys = MemberKeys.generate(os.urandom)  # valid keys: only the password is wrong
        async with BrokerApi(target.server.url, target.context) as api:
            for _ in range(2 * limits.JOIN_FAILURES_BEFORE_LOCK):
                try:
                    await api.join(
                        session_id, "Mallory", keys.agreement_public, keys.ed25519_public, "guess"
                    )
                except ApiError as error:
                    if error.status == 429:
                        return refused, error.detail
                    assert error.status == 403, error
                    refused += 1
                else:
                    raise AssertionError("a wrong password was accepted")
        raise AssertionError(f"never throttled after {refused} refusals")

    return run_async(attempts())


def _without_numbers(text: str) -> str:
    return re.sub(r"\d+", "N", text)


def test_many_attempts_are_throttled_alike_for_a_real_and_an_unknown_session(
    target: Target,
) -> None:
    session_refusals, _ = _fail_until_throttled(target, target.session.session_id)
    unknown_refusals, _ = _fail_until_throttled(target, target.unknown_id)
    assert 0 < session_refusals <= limits.JOIN_FAILURES_BEFORE_LOCK
    assert 0 < unknown_refusals <= limits.JOIN_FAILURES_BEFORE_LOCK
    # Now even the right password is refused for a while, and the CLI says how long.
    with ThreadPoolExecutor(2) as pool:
        right_password = pool.submit(target.join, target.session.invite_url, SESSION_PASSWORD)
        unknown = pool.submit(
            target.join, target.unknown_id, SESSION_PASSWORD, "--server", target.server.url
        )
    throttled = right_password.result()
    assert throttled.returncode == 1, throttled
    assert "Joined" not in throttled.stdout
    match = re.fullmatch(
        r"relaydesk: Too many attempts to join this session; try again later\. "
        r"\(try again in (\d+) s\)\n",
        throttled.stderr,
    )
    assert match, throttled.stderr
    assert 0 < int(match.group(1)) <= limits.JOIN_LOCK_SECONDS
    # An unknown ID is throttled in the same words: the limit tells nothing either.
    assert unknown.result().returncode == 1
    assert _without_numbers(unknown.result().stderr) == _without_numbers(throttled.stderr)
