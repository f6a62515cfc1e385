"""Remote control from the Python client, with the presenter's consent typed in its
terminal; a real X client on the presenter's screen records what arrives.

Besides Pat (``relaydesk join`` in a terminal), library clients play the parts a
person's client cannot: Rita streams input as fast as she can (to hit the instant of
Ctrl+F12), Mallory sends input she has no grant for and forges Pat's sender id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from Xlib import XK

from browser.helpers import LiveServer, relaydesk
from integration.helpers import Crowd, Peer, join_peer, pinned_context, run_async, until
from relaydesk.protocol.frames import HEADER_SIZE, Frame, FrameType, parse_header
from relaydesk.protocol.messages import (
    ConsentKind,
    ControlRequest,
    Error,
    Grant,
    InputEvent,
    InputKind,
    Revoke,
    RevokeReason,
)
from relaydesk.relay.hub import RelayHub
from relaydesk.screen.xvfb import Xvfb
from support.input_recorder import Event, Recorder, keys_of
from support.terminal import Terminal

from .conftest import LEFT, TOP, Share, xdotool

CONTROL_PROMPT = r"\? {} asks to control your mouse and keyboard\. Allow\? \[y/N\]"
MODIFIER_KEYSYMS = {XK.XK_Shift_L, XK.XK_Shift_R, XK.XK_Control_L, XK.XK_Control_R}
SETTLE_SECONDS = 0.5  # input sent after this is long gone through a loopback relay


def collect(recorder: Recorder, done: Callable[[list[Event]], bool]) -> list[Event]:
    """The recorder's events from now on, until ``done(events)``."""
    events: list[Event] = []
    deadline = time.monotonic() + 30
    while not done(events):
        assert time.monotonic() < deadline, f"the presenter's screen got only {events}"
        events += recorder.events()
        time.sleep(0.05)
    return events


def typed(events: list[Event]) -> list[int]:
    return [k for k in keys_of(events) if k not in MODIFIER_KEYSYMS]


def grant_control(share: Share, viewer: Terminal, name: str) -> None:
    """``/control`` at the viewer; the presenter reads the prompt and types y."""
    viewer.type("/control")
    share.terminal.expect(CONTROL_PROMPT.format(name))
    share.terminal.type("y")
    viewer.expect(r"\* now in remote control: you")
    share.terminal.expect(rf"{name} now controls your mouse and keyboard")


def records(server: LiveServer, share: Share) -> list[dict[str, object]]:
    """The event records of this share's session (``relaydesk admin records``)."""
    exported = relaydesk("admin", "--data", server.data, "records", "--json").stdout
    session_id = share.invite_url.rstrip("/").rsplit("/", 1)[-1]
    return [r for r in json.loads(exported) if r["session_id"] == session_id]


def until_records(
    server: LiveServer, share: Share, kind: str, count: int = 1
) -> list[dict[str, object]]:
    """Records are written off the relay's loop: wait for ``count`` of ``kind``."""
    deadline = time.monotonic() + 30
    while len(found := [r for r in records(server, share) if r["kind"] == kind]) < count:
        assert time.monotonic() < deadline, f"records: {records(server, share)}"
        time.sleep(0.2)
    return found


# The Python viewer, as a person uses it ----------------------------------------------


def test_input_needs_the_presenters_yes_then_lands_where_pointed(
    share: Share, viewer: Terminal, recorder: Recorder
) -> None:
    viewer.type("/click 200 150")
    viewer.expect("you have no remote control")
    viewer.type("/control")
    share.terminal.expect(CONTROL_PROMPT.format("Pat"))
    viewer.type("/click 200 150")  # asked, not answered: still nothing
    viewer.expect("you have no remote control")
    assert recorder.events() == []

    share.terminal.type("y")
    viewer.expect(r"\* now in remote control: you")
    viewer.type("/click 200 150")
    viewer.type("/type Hi there!")
    viewer.type("/key Return")
    wanted = [ord(c) for c in "Hi there!"] + [XK.XK_Return]
    events = collect(recorder, lambda events: typed(events) == wanted)

    (press,) = [e for e in events if e["type"] == "button_press"]
    assert (press["root_x"], press["root_y"], press["detail"]) == (200, 150, 1)
    assert (press["x"], press["y"]) == (200 - LEFT, 150 - TOP)
    assert [e["type"] for e in events if "button" in e["type"]] == [
        "button_press", "button_release",
    ]  # fmt: skip


def test_a_denied_request_grants_nothing(
    share: Share, viewer: Terminal, recorder: Recorder
) -> None:
    viewer.type("/control")
    share.terminal.expect(CONTROL_PROMPT.format("Pat"))
    share.terminal.type("n")
    viewer.expect(r"you asked Olga for remote control: denied")
    viewer.type("/type nope")
    viewer.expect("you have no remote control")
    time.sleep(SETTLE_SECONDS)
    assert recorder.events() == []


def test_the_viewer_can_give_control_back(
    share: Share, viewer: Terminal, recorder: Recorder
) -> None:
    grant_control(share, viewer, "Pat")
    viewer.type("/revoke")
    share.terminal.expect(r"\* Pat lost remote control \(relinquished\)")
    viewer.type("/type late")
    viewer.expect("you have no remote control")
    time.sleep(SETTLE_SECONDS)
    assert recorder.events() == []


# Members without the grant --------------------------------------------------------


def test_input_without_the_grant_and_forged_input_never_arrive(
    share: Share, viewer: Terminal, recorder: Recorder, server: LiveServer, tmp_path: Path
) -> None:
    grant_control(share, viewer, "Pat")
    pat_id = server.members()["Pat"]

    async def mallory_tries() -> list[Error]:
        context = pinned_context(server.url, server.fingerprint, tmp_path)
        session_id = share.invite_url.rstrip("/").rsplit("/", 1)[-1]
        async with Crowd() as crowd:
            mallory = crowd.add(await join_peer(server.url, context, session_id, "Mallory"))
            await asyncio.to_thread(share.terminal.expect, r"\+ Mallory joined")
            await until(lambda: len(mallory.epoch_members) == 3, "Mallory has the keys")
            presenter = mallory.member.presenter
            assert presenter is not None
            click = InputEvent(InputKind.BUTTON, x=300, y=300, button=1, pressed=True)
            # 1. Her own input: Pat holds the grant, not she.
            await mallory.member.send_content(click, presenter)
            await until(lambda: bool(mallory.messages_of(Error)), "the relay answers")
            # 2. Input under Pat's sender id: the relay knows whose connection it is.
            forged = _as_sender(mallory.member.e2e.seal(click, presenter), pat_id)
            await mallory.member._write(forged)
            await until(lambda: mallory.closed is not None, "the relay closes her link")
            return [message for _, message in mallory.messages_of(Error)]

    errors = run_async(mallory_tries())
    assert "input without a live grant" in errors[0].text
    assert "sender" in errors[-1].text
    share.terminal.expect(r"- Mallory left")
    time.sleep(SETTLE_SECONDS)
    assert recorder.events() == []

    refused = until_records(server, share, "refused", 2)
    assert [r["display_name"] for r in refused] == ["Mallory", "Mallory"]
    assert str(refused[0]["detail"]).startswith("action=dropped_input reason=input without")
    assert str(refused[1]["detail"]).startswith("action=closed reason=")


def test_a_relay_forwarding_forged_input_is_stopped_by_the_signature(
    share: Share, viewer: Terminal, recorder: Recorder, server: LiveServer, tmp_path: Path
) -> None:
    """The second check: were the relay to forward input under the controller's id (a
    compromised relay), the presenter verifies the sender's signature and drops it."""
    grant_control(share, viewer, "Pat")
    hub = server.hub
    pat_id = server.members()["Pat"]

    async def relay_forwards_forgery() -> None:
        context = pinned_context(server.url, server.fingerprint, tmp_path)
        session_id = share.invite_url.rstrip("/").rsplit("/", 1)[-1]
        async with Crowd() as crowd:
            mallory = crowd.add(await join_peer(server.url, context, session_id, "Mallory"))
            await until(lambda: len(mallory.epoch_members) == 3, "Mallory has the keys")
            presenter = mallory.member.presenter
            assert presenter is not None
            click = InputEvent(InputKind.BUTTON, x=300, y=300, button=1, pressed=True)
            forged = _as_sender(mallory.member.e2e.seal(click, presenter), pat_id)
            server.inspect(lambda: _deliver_raw(hub, presenter, forged))
            await asyncio.to_thread(share.terminal.expect, r"! dropped a frame from Pat")

    run_async(relay_forwards_forgery())
    time.sleep(SETTLE_SECONDS)
    assert recorder.events() == []


# Ctrl+F12 -----------------------------------------------------------------------------


def test_ctrl_f12_ends_control_at_once_even_for_input_in_flight(
    share: Share,
    recorder: Recorder,
    server: LiveServer,
    presenter_screen: Xvfb,
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[Event], list[Event], Peer]:
        context = pinned_context(server.url, server.fingerprint, tmp_path)
        session_id = share.invite_url.rstrip("/").rsplit("/", 1)[-1]
        async with Crowd() as crowd:
            rita = crowd.add(await join_peer(server.url, context, session_id, "Rita"))
            await until(lambda: len(rita.epoch_members) == 2, "Rita has the keys")
            await rita.member.send(ControlRequest())
            await asyncio.to_thread(share.terminal.expect, CONTROL_PROMPT.format("Rita"))
            share.terminal.type("y")
            await until(lambda: rita.member.control_holder == rita.member_id, "Rita controls")
            presenter = rita.member.presenter
            assert presenter is not None

            async def stream() -> None:  # pointer moves, as fast as they go out
                step = 0
                while True:
                    step += 1
                    move = InputEvent(InputKind.POINTER_MOVE, x=100 + step % 400, y=200)
                    with contextlib.suppress(Exception):
                        await rita.member.send_content(move, presenter)
                    await asyncio.sleep(0.002)

            streaming = asyncio.create_task(stream())
            try:
                before = await asyncio.to_thread(collect, recorder, lambda events: len(events) > 20)
                await asyncio.to_thread(xdotool, presenter_screen, "key", "ctrl+F12")
                await asyncio.to_thread(
                    share.terminal.expect, r"Remote control revoked \(Ctrl\+F12\)\."
                )
                await asyncio.to_thread(recorder.events)  # up to the revoke
                await asyncio.sleep(SETTLE_SECONDS)  # still streaming
                after = await asyncio.to_thread(recorder.events)
            finally:
                streaming.cancel()
            await until(
                lambda: any(m.kind is ConsentKind.CONTROL for _, m in rita.messages_of(Revoke)),
                "Rita is told",
            )
            # A new request needs a new yes.
            await rita.member.send(ControlRequest())
            await asyncio.to_thread(share.terminal.expect, CONTROL_PROMPT.format("Rita"))
            share.terminal.type("n")
            return before, after, rita

    before, after, rita = run_async(scenario())
    assert any(e["type"] == "motion" for e in before)
    assert after == []
    (revoke,) = [m for _, m in rita.messages_of(Revoke) if m.kind is ConsentKind.CONTROL]
    assert (revoke.member_id, revoke.reason) == (rita.member_id, RevokeReason.BY_PRESENTER)
    assert not [m for _, m in rita.messages_of(Grant) if m.kind is ConsentKind.CONTROL][1:]


def test_every_request_answer_grant_and_revoke_is_on_record(
    share: Share, viewer: Terminal, server: LiveServer
) -> None:
    grant_control(share, viewer, "Pat")
    share.terminal.type("/revoke")
    viewer.expect(r"\* you lost remote control \(by presenter\)")
    until_records(server, share, "revoke")
    trail = records(server, share)
    (joined,) = [r for r in trail if r["kind"] == "join" and r["display_name"] == "Pat"]
    pat = joined["member_id"]
    control = [
        (r["kind"], r["display_name"], r["detail"])
        for r in trail
        if "what=control" in str(r["detail"])
    ]
    assert control == [
        ("consent_asked", "Olga", f"what=control asked_by={pat}"),
        ("consent_answered", "Olga", f"what=control asked_by={pat} result=granted"),
        ("grant", "Pat", "what=control"),
        ("revoke", "Pat", "what=control reason=by_presenter"),
    ]


# Helpers --------------------------------------------------------------------------------


def _as_sender(frame: Frame, sender: int) -> bytes:
    """The sealed frame with another sender id in its header (the signature is not
    the claimed sender's, and the header is the AEAD's associated data)."""
    return Frame(frame.header._replace(sender=sender), frame.body).serialize()


def _deliver_raw(hub: RelayHub, member_id: int, data: bytes) -> None:
    """What a compromised relay could do: put any frame in a member's queue."""
    header, _ = parse_header(data[:HEADER_SIZE])
    assert header.type is FrameType.INPUT_EVENT
    (live,) = [live for live in hub.sessions.values() if member_id in live.connections]
    hub._enqueue(live, live.connections[member_id], header, data)
