"""Files between Python members (issue 9; docs/protocol.md §4.5, docs/meetings.md).

Real EmbeddedServer (this module's own), real library members over real TLS WebSockets,
real files on disk. The receiver's person is a function that answers yes or no; the
terminal version of the same journey is tests/remote/test_file_terminal.py. Nothing here
waits on a clock: every wait is for a state to be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from integration.helpers import (
    LIVENESS_TIMEOUT,
    Crowd,
    Peer,
    add_organizer,
    log_in,
    pinned_context,
    run_async,
    until,
)
from integration.test_meeting_controls import create, join
from relaydesk import limits
from relaydesk.client.files import State, Transfer, Transfers, sanitize_file_name
from relaydesk.client.member import Received
from relaydesk.protocol.frames import EVERYONE, Frame
from relaydesk.protocol.messages import Error, FileChunk, FileOffer
from support.servers import LiveServer


class Side:
    """A member with its transfers: what arrives goes to them first."""

    def __init__(self, peer: Peer, downloads: Path, answer: bool, transfers: type[Transfers]):
        self.peer = peer
        self.downloads = downloads
        self.asked: list[tuple[int, FileOffer, str]] = []
        self.notes: list[str] = []

        async def ask(sender: int, offer: FileOffer, name: str) -> bool:
            self.asked.append((sender, offer, name))
            return answer

        def notify(transfer: Transfer, text: str | None) -> None:
            if text:
                self.notes.append(text)

        self.transfers = transfers(peer.member, downloads, ask, notify)

        async def on_message(_: Peer, item: Received) -> None:
            await self.transfers.handle(item.header, item.message)
            await self.transfers.poll()

        peer.on_message = on_message
        peer.on_reconnect = self.transfers.link_lost  # as the CLI does on "Reconnected"

    async def reconnect(self) -> None:
        """A forced reconnect: the link drops, the member connects again (same id)."""
        self.transfers.link_lost()
        await self.peer.member.reconnect()
        task = self.peer._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.peer._task = None
        self.peer.start_reading()


@contextlib.asynccontextmanager
async def pair(
    server: LiveServer,
    context: ssl.SSLContext,
    token: str,
    tmp_path: Path,
    answer: bool = True,
    sender_class: type[Transfers] = Transfers,
) -> AsyncIterator[tuple[Side, Side]]:
    """A host (Hannah, the sender) and a guest (Pat, the receiver) with keys."""
    created = await create(server, context, token)
    async with Crowd() as crowd:
        hannah = crowd.add(await join(server, context, created.session_id, "Hannah", token=token))
        pat = crowd.add(await join(server, context, created.session_id, "Pat"))
        sender = Side(hannah, tmp_path / "hannah-downloads", True, sender_class)
        receiver = Side(pat, tmp_path / "pat-downloads", answer, Transfers)
        both = frozenset({hannah.member_id, pat.member_id})
        for peer in (hannah, pat):
            await until(lambda p=peer: p.epoch_members == both, f"{peer.name} has the keys")
        try:
            yield sender, receiver
        finally:
            sender.transfers.close()
            receiver.transfers.close()


def a_file(folder: Path, name: str, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def ended(transfer: Transfer, what: str) -> None:
    await until(lambda: transfer.state.over, what)


@pytest.fixture(scope="module")
def files_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, ssl.SSLContext, str]]:
    """A server of this module's own: its many joins must not use up the shared
    server's per-address join budget of the tests that follow."""
    data = tmp_path_factory.mktemp("files-server")
    add_organizer(data)
    server = LiveServer(data).start()
    try:
        context = pinned_context(
            server.url, server.fingerprint, tmp_path_factory.mktemp("files-profile")
        )
        yield server, context, run_async(log_in(server.url, context))
    finally:
        server.stop()


@pytest.fixture
def meeting(
    files_server: tuple[LiveServer, ssl.SSLContext, str], tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[Side, Side]]]:
    server, context, token = files_server

    def open_(**options: object) -> contextlib.AbstractAsyncContextManager[tuple[Side, Side]]:
        return pair(server, context, token, tmp_path, **options)  # type: ignore[arg-type]

    return open_


def test_an_accepted_file_lands_whole_and_checked(
    meeting: Callable[..., object], tmp_path: Path
) -> None:
    source = a_file(tmp_path / "out", "report.pdf", 3 * limits.MAX_FILE_CHUNK + 12345)

    async def scenario() -> None:
        async with meeting() as (hannah, pat):  # type: ignore[attr-defined]
            sent = await hannah.transfers.send_file(pat.peer.member_id, source)
            await ended(sent, "the sender hears the file was kept")
            assert sent.state is State.COMPLETE
            (received,) = pat.transfers.transfers.values()
            assert received.state is State.COMPLETE and received.path is not None
            assert received.path == pat.downloads / "report.pdf"
            data = received.path.read_bytes()
            assert data == source.read_bytes()
            assert hashlib.sha256(data).digest() == sent.sha256
            assert listing(pat.downloads) == ["report.pdf"]  # no .part left
            ((asker, offer, name),) = pat.asked
            assert asker == hannah.peer.member_id and name == "report.pdf"
            assert offer.size == source.stat().st_size
            # a second file of the same name never overwrites the first
            again = await hannah.transfers.send_file(pat.peer.member_id, source)
            await ended(again, "the second copy is kept")
            assert listing(pat.downloads) == ["report (1).pdf", "report.pdf"]

    run_async(scenario())


def test_a_declined_file_leaves_nothing_on_disk(
    meeting: Callable[..., object], tmp_path: Path
) -> None:
    source = a_file(tmp_path / "out", "photo.jpg", 100_000)

    async def scenario() -> None:
        async with meeting(answer=False) as (hannah, pat):  # type: ignore[attr-defined]
            sent = await hannah.transfers.send_file(pat.peer.member_id, source)
            await ended(sent, "the sender hears no")
            assert sent.state is State.DECLINED and sent.sent == 0
            assert listing(pat.downloads) == []  # not even a .part
            assert not any(isinstance(r.message, FileChunk) for r in pat.peer.received)

    run_async(scenario())


def test_a_lying_digest_keeps_nothing_and_tells_both_sides(
    meeting: Callable[..., object], tmp_path: Path
) -> None:
    source = a_file(tmp_path / "out", "data.bin", 2 * limits.MAX_FILE_CHUNK)

    class LyingSender(Transfers):
        async def _send(self, transfer: Transfer, message: object) -> None:
            if isinstance(message, FileOffer):
                flipped = bytes([message.sha256[0] ^ 1]) + message.sha256[1:]
                message = FileOffer(message.transfer_id, message.name, message.size, flipped,
                                    message.chunk_size)  # fmt: skip
            await super()._send(transfer, message)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with meeting(sender_class=LyingSender) as (hannah, pat):  # type: ignore[attr-defined]
            sent = await hannah.transfers.send_file(pat.peer.member_id, source)
            await ended(sent, "the sender hears the digest failed")
            assert sent.state is State.INTEGRITY_FAILED
            (received,) = pat.transfers.transfers.values()
            assert received.state is State.INTEGRITY_FAILED
            assert listing(pat.downloads) == []
            assert any("SHA-256" in n for n in pat.notes)

    run_async(scenario())


def test_an_altered_chunk_keeps_nothing(meeting: Callable[..., object], tmp_path: Path) -> None:
    source = a_file(tmp_path / "out", "data.bin", 3 * limits.MAX_FILE_CHUNK)

    class BitFlipper(Transfers):
        def _read(self, transfer: Transfer, offset: int, length: int) -> bytes:
            data = bytearray(super()._read(transfer, offset, length))
            if offset == limits.MAX_FILE_CHUNK:
                data[100] ^= 0x08  # one bit of the second chunk, sealed and signed as sent
            return bytes(data)

    async def scenario() -> None:
        async with meeting(sender_class=BitFlipper) as (hannah, pat):  # type: ignore[attr-defined]
            sent = await hannah.transfers.send_file(pat.peer.member_id, source)
            await ended(sent, "the sender hears the digest failed")
            assert sent.state is State.INTEGRITY_FAILED
            assert listing(pat.downloads) == []

    run_async(scenario())


MALICIOUS = [
    ("../../etc/passwd", "passwd"),
    ("..\\x", "x"),
    ("/etc/shadow", "shadow"),
    ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
    ("a\x00b.txt", "ab.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("LPT1.log", "_LPT1.log"),
    (".bashrc", "bashrc"),
    ("...hidden", "hidden"),
    ("trailing. . ", "trailing"),
    ("evil\u202egnp.exe", "evilgnp.exe"),  # a right-to-left override, dropped
    ("x" * 250 + ".pdf", "x" * (limits.MAX_KEPT_NAME_CHARS - 4) + ".pdf"),
]


@pytest.mark.parametrize(("offered", "kept"), MALICIOUS)
def test_sanitised_names(offered: str, kept: str) -> None:
    assert sanitize_file_name(offered) == kept


@pytest.mark.parametrize("offered", ["..", "/", "\\", "a/", "\x00", " . ", "\x01\x02", "..\\..\\"])
def test_a_name_with_nothing_left_is_refused(offered: str) -> None:
    assert sanitize_file_name(offered) is None


def test_malicious_names_never_write_outside_the_download_folder(
    meeting: Callable[..., object], tmp_path: Path
) -> None:
    source = a_file(tmp_path / "out", "payload", 1000)

    async def scenario() -> None:
        async with meeting() as (hannah, pat):  # type: ignore[attr-defined]
            pat.downloads.mkdir(parents=True)
            outside_before = sorted(
                str(p) for p in tmp_path.rglob("*") if pat.downloads not in p.parents
            )
            for offered, _ in MALICIOUS[:10]:
                sent = await hannah.transfers.send_file(pat.peer.member_id, source, name=offered)
                await ended(sent, f"{offered!r} is kept")
                assert sent.state is State.COMPLETE
            refused = await hannah.transfers.send_file(pat.peer.member_id, source, name="../..")
            await ended(refused, "a name with nothing left is refused")
            assert refused.state is State.DECLINED
            kept = listing(pat.downloads)
            assert kept == sorted(k for _, k in MALICIOUS[:10])
            assert all((pat.downloads / k).read_bytes() == source.read_bytes() for k in kept)
            outside_after = sorted(
                str(p) for p in tmp_path.rglob("*") if pat.downloads not in p.parents
            )
            assert outside_after == outside_before

    run_async(scenario())


def test_a_transfer_resumes_after_a_forced_reconnect(
    meeting: Callable[..., object], tmp_path: Path
) -> None:
    size = 4 * limits.FILE_WINDOW_BYTES
    source = a_file(tmp_path / "out", "big.iso", size)

    class DropsOnce(Transfers):
        """Reconnects (as after a network drop) once the receiver holds a quarter."""

        dropped: asyncio.Event
        sent_before_resume = -1

        async def _offer(self, transfer: Transfer) -> None:
            if transfer.offers == 1:
                DropsOnce.sent_before_resume = transfer.sent
            await super()._offer(transfer)

        def _answered(self, transfer: Transfer, answer: object) -> None:
            super()._answered(transfer, answer)  # type: ignore[arg-type]
            if transfer.done >= size // 4 and not self.dropped.is_set():
                self.dropped.set()

    async def scenario() -> None:
        DropsOnce.dropped = asyncio.Event()
        async with meeting(sender_class=DropsOnce) as (hannah, pat):  # type: ignore[attr-defined]
            sent = await hannah.transfers.send_file(pat.peer.member_id, source)
            await asyncio.wait_for(DropsOnce.dropped.wait(), LIVENESS_TIMEOUT)
            await hannah.reconnect()
            await ended(sent, "the resumed file is kept")
            assert sent.state is State.COMPLETE, hannah.notes
            assert sent.offers >= 2 and sent.resumed_at is not None
            assert sent.resumed_at >= size // 4  # the receiver held a quarter at least
            (received,) = pat.transfers.transfers.values()
            assert received.resumed_at is not None and received.resumed_at >= sent.resumed_at
            sent_again = sent.sent - DropsOnce.sent_before_resume
            assert sent_again <= size - sent.resumed_at < size  # only what was missing
            assert received.path is not None and received.path.read_bytes() == source.read_bytes()
            assert listing(pat.downloads) == ["big.iso"]

    run_async(scenario())


def test_a_broadcast_file_chunk_is_refused_at_the_relay_and_at_the_receiver(
    meeting: Callable[..., object], tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with meeting() as (hannah, pat):  # type: ignore[attr-defined]
            await hannah.peer.member.send_content(FileChunk(7, 0, b"to all"), EVERYONE)
            await until(
                lambda: any(isinstance(r.message, Error) for r in hannah.peer.received),
                "the relay refuses the broadcast",
            )
            (error,) = [r.message for r in hannah.peer.received if isinstance(r.message, Error)]
            assert "one member" in error.text
            assert not any(isinstance(r.message, FileChunk) for r in pat.peer.received)
            # Forged past the relay (a relay that forwards it anyway): a sealed, signed
            # broadcast chunk reaches the receiver, which drops it.
            frame = hannah.peer.member.e2e.seal(FileChunk(7, 0, b"to all"), EVERYONE)
            opened = pat.peer.member.e2e.open(Frame.parse(frame.serialize()), time.time())
            assert await pat.transfers.handle(frame.header, opened)
            assert any("not sent to you alone" in n for n in pat.notes)
            assert listing(pat.downloads) == []

    run_async(scenario())
