"""Files between two members: offered, asked, sent in sealed chunks, checked, kept
(docs/protocol.md §4.5, docs/meetings.md "Sending files").

Every message of a transfer is a sealed content message on the FILE channel to one
member. The receiver's person is asked every time; an accepted file is written to a
``.part`` file in the download folder, each chunk at the offset it holds, and kept under
its sanitised name (never overwriting anything) only once its SHA-256 matches the
offer's. The receiver's acknowledgements (FILE_ANSWER with the offset it holds) pace the
sender: at most ``limits.FILE_WINDOW_BYTES`` are in flight. After a reconnect the sender
offers the same transfer again and the receiver answers with the offset it holds.
Nothing received is ever opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from relaydesk import limits
from relaydesk.client.member import Member
from relaydesk.errors import ClientError, CryptoError, RelaydeskError
from relaydesk.protocol.frames import Header
from relaydesk.protocol.messages import (
    AnyMessage,
    ContentMessage,
    FileAnswer,
    FileChunk,
    FileEnd,
    FileEndReason,
    FileOffer,
    KeyCommit,
    MemberLeft,
    Roster,
)

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"

# Names Windows keeps for devices, with or without an extension (CON, con.txt, LPT1...).
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{device}{n}" for device in ("COM", "LPT") for n in "0123456789¹²³"
}
_FORBIDDEN = set('<>:"|?*/\\')
_MAX_EXTENSION = 16


def sanitize_file_name(name: str) -> str | None:
    """The name a received file may be kept under, or None when nothing usable is left.

    Base name only (after the last ``/`` or ``\\``), no control or format characters
    (NUL, newlines, right-to-left overrides), none of ``<>:"|?*``, no leading dots, no
    trailing dots or spaces, a Windows device name prefixed with ``_``, at most
    ``limits.MAX_KEPT_NAME_CHARS`` characters (the extension kept).
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    kept = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C" and ch not in _FORBIDDEN)
    kept = kept.strip().lstrip(".").strip().rstrip(". ")
    if not kept:
        return None
    stem, dot, extension = kept.rpartition(".")
    if not dot or len(extension) > _MAX_EXTENSION:
        stem, dot, extension = kept, "", ""
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    room = limits.MAX_KEPT_NAME_CHARS - len(dot + extension)
    return stem[:room].rstrip(". ") + dot + extension if stem[:room].rstrip(". ") else None


def _numbered(name: str, n: int) -> str:
    """``report.pdf`` -> ``report (n).pdf``."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{extension}"


def keep_without_overwriting(part: Path, folder: Path, name: str) -> Path:
    """Move ``part`` to ``folder/name`` or, when taken, ``name (1)``, ``name (2)``...:
    an existing file is never replaced (a hard link fails when the name exists)."""
    for n in range(10_000):
        target = folder / (name if n == 0 else _numbered(name, n))
        try:
            os.link(part, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links here: create exclusively and copy
            try:
                with open(target, "xb") as out, open(part, "rb") as source:
                    while block := source.read(limits.MIB):
                        out.write(block)
            except FileExistsError:
                continue
        part.unlink()
        return target
    raise ClientError(f"no free name for {name} in {folder}")


class State(enum.Enum):
    OFFERED = "offered"  # waiting for the receiver's person
    ACTIVE = "active"
    INTERRUPTED = "interrupted"  # the link dropped: resumes when both are back
    COMPLETE = "complete"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    INTEGRITY_FAILED = "integrity failed"
    FAILED = "failed"

    @property
    def over(self) -> bool:
        return self not in (State.OFFERED, State.ACTIVE, State.INTERRUPTED)


_END_STATES = {
    FileEndReason.COMPLETE: State.COMPLETE,
    FileEndReason.CANCELLED: State.CANCELLED,
    FileEndReason.INTEGRITY_FAILED: State.INTEGRITY_FAILED,
    FileEndReason.FAILED: State.FAILED,
}


@dataclass(eq=False)
class Transfer:
    """One file, either way. ``done`` is what the receiver holds (as last acknowledged,
    on the sending side); ``sent`` counts the bytes this side sent since it started."""

    incoming: bool
    peer: int
    transfer_id: int
    name: str  # the sender's name for it (sending) or the sanitised one (receiving)
    size: int
    sha256: bytes
    chunk_size: int = limits.MAX_FILE_CHUNK
    state: State = State.OFFERED
    done: int = 0
    sent: int = 0
    path: Path | None = None  # sending: the file; receiving: the .part, then the kept file
    offers: int = 0  # how often it was offered (1 + resumes)
    resumed_at: int | None = None  # the offset the last resume started from
    # interrupted: resume in an epoch newer than this one (the peer left and came back),
    # or, when None, once this member is back (its own link dropped)
    epoch_lost: int | None = 0
    _hash: hashlib._Hash | None = None
    _acked: int = 0  # receiving: the offset last acknowledged
    _dup_acked: int = -1  # receiving: the offset last told on a duplicate chunk
    _next: int = 0  # sending: the offset of the next chunk (moves up with an answer)
    _offer_epoch: int = 0  # sending: the epoch the last offer was sealed in
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _fd: int | None = None

    @property
    def key(self) -> tuple[bool, int, int]:
        return (self.incoming, self.peer, self.transfer_id)


Ask = Callable[[int, FileOffer, str], Awaitable[bool | None]]
"""Ask the person: (sender, offer, sanitised name) -> yes, no, or None (no answer)."""
Notify = Callable[[Transfer, str | None], None]
"""Told of every change: a text for the person, or None for progress only."""


def _quiet(transfer: Transfer, text: str | None) -> None:
    del transfer, text


def file_sha256(path: Path) -> tuple[int, bytes]:
    """(size, SHA-256) of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source:
        while block := source.read(limits.MIB):
            digest.update(block)
            size += len(block)
    return size, digest.digest()


def format_size(size: int) -> str:
    """1234567 -> '1.2 MB' (decimal units, as file managers show them)."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


class Transfers:
    """Every file transfer of one member, both ways. Feed it what arrives (``handle``)."""

    def __init__(
        self,
        member: Member,
        downloads: Path,
        ask: Ask,
        notify: Notify = _quiet,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.member = member
        self.downloads = downloads
        self._ask = ask
        self._notify = notify
        self._rng = rng
        self.transfers: dict[tuple[bool, int, int], Transfer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconnecting = False  # this member's link dropped; no roster since

    # Queries --------------------------------------------------------------------------

    def open_transfers(self, peer: int | None = None) -> list[Transfer]:
        return [
            t
            for t in self.transfers.values()
            if not t.state.over and (peer is None or t.peer == peer)
        ]

    def find(self, transfer_id: int | None = None) -> list[Transfer]:
        """Open transfers with that id (both ways), or all open ones."""
        return [
            t for t in self.open_transfers() if transfer_id is None or t.transfer_id == transfer_id
        ]

    def _name(self, member_id: int) -> str:
        return self.member.names.get(member_id, f"member {member_id}")

    def _peer_ready(self, peer: int) -> bool:
        epoch = self.member.e2e.current
        return (
            epoch is not None and peer in epoch.members and self.member.member_id in epoch.members
        )

    # Sending --------------------------------------------------------------------------

    async def send_file(self, peer: int, path: Path, name: str | None = None) -> Transfer:
        """Offer ``path`` to ``peer``; the bytes go once its person says yes."""
        if peer == self.member.member_id:
            raise ClientError("that is you: send the file to someone else")
        if peer not in self.member.roles:
            raise ClientError(f"member {peer} is not in the session")
        if len(self.open_transfers(peer)) >= limits.MAX_FILE_TRANSFERS_PER_PEER:
            raise ClientError(
                f"already {limits.MAX_FILE_TRANSFERS_PER_PEER} transfers with "
                f"{self._name(peer)}: wait for one to end"
            )
        if not path.is_file():
            raise ClientError(f"{path} is not a file")
        size, digest = await asyncio.to_thread(file_sha256, path)
        if size > limits.MAX_FILE_BYTES:
            raise ClientError(f"{path.name} is larger than {format_size(limits.MAX_FILE_BYTES)}")
        offered = (name or path.name)[: limits.MAX_FILE_NAME_CHARS] or "file"
        transfer_id = 0
        while transfer_id == 0 or (False, peer, transfer_id) in self.transfers:
            transfer_id = int.from_bytes(self._rng(4), "big")
        transfer = Transfer(False, peer, transfer_id, offered, size, digest, path=path)
        self.transfers[transfer.key] = transfer
        await self._offer(transfer)
        return transfer

    def _offer_message(self, transfer: Transfer) -> FileOffer:
        return FileOffer(
            transfer.transfer_id, transfer.name, transfer.size, transfer.sha256,
            transfer.chunk_size,
        )  # fmt: skip

    async def _offer(self, transfer: Transfer) -> None:
        transfer.offers += 1
        transfer.state = State.OFFERED
        epoch = self.member.e2e.current
        transfer._offer_epoch = epoch.number if epoch is not None else 0
        await self._send(transfer, self._offer_message(transfer))
        if transfer.offers == 1:
            self._notify(transfer, f"Offered {transfer.name} ({format_size(transfer.size)}) to "
                         f"{self._name(transfer.peer)}; waiting for their answer.")  # fmt: skip

    async def _send(self, transfer: Transfer, message: ContentMessage) -> None:
        await self.member.send_content(message, transfer.peer)

    def _read(self, transfer: Transfer, offset: int, length: int) -> bytes:
        """The bytes of a chunk (a test's lying sender changes them here)."""
        assert transfer.path is not None
        with open(transfer.path, "rb") as source:
            source.seek(offset)
            return source.read(length)

    async def _pump(self, transfer: Transfer, start: int) -> None:
        """Send from ``start``, keeping at most FILE_WINDOW_BYTES unacknowledged."""
        transfer._next = start
        try:
            while transfer._next < transfer.size and transfer.state is State.ACTIVE:
                offset = transfer._next = max(transfer._next, transfer.done)
                if offset - transfer.done >= limits.FILE_WINDOW_BYTES:
                    transfer._wake.clear()
                    await transfer._wake.wait()
                    continue
                length = min(transfer.chunk_size, transfer.size - offset)
                data = self._read(transfer, offset, length)
                if len(data) != length:
                    raise ClientError(f"{transfer.path} changed while it was being sent")
                await self._send(transfer, FileChunk(transfer.transfer_id, offset, data))
                transfer._next = offset + length
                transfer.sent += length
        except (ClientError, CryptoError) as error:
            if transfer.state is State.ACTIVE and isinstance(error, ClientError):
                log.info("transfer %08x interrupted: %s", transfer.transfer_id, error)
                self._interrupt(transfer)
            else:
                log.warning("transfer %08x: %s", transfer.transfer_id, error)
        except OSError as error:
            await self._end(transfer, State.FAILED, f"cannot read {transfer.path}: {error}")

    def _answered(self, transfer: Transfer, answer: FileAnswer) -> None:
        if not answer.accepted:
            if transfer.state is State.OFFERED:
                self._finish(transfer, State.DECLINED,
                             f"{self._name(transfer.peer)} declined {transfer.name}.")  # fmt: skip
            return
        if answer.offset > transfer.size:
            return
        if transfer.state is State.OFFERED:
            transfer.state = State.ACTIVE
            transfer.done = answer.offset
            if transfer.offers > 1:
                transfer.resumed_at = answer.offset
                at = format_size(answer.offset)
                self._notify(transfer, f"Resuming {transfer.name} for "
                             f"{self._name(transfer.peer)} at {at}.")  # fmt: skip
            else:
                self._notify(transfer, f"{self._name(transfer.peer)} accepted {transfer.name}: "
                             "sending.")  # fmt: skip
            self._start_pump(transfer, answer.offset)
        elif transfer.state is State.ACTIVE and answer.offset > transfer.done:
            transfer.done = answer.offset
            transfer._wake.set()
            self._notify(transfer, None)

    def _start_pump(self, transfer: Transfer, start: int) -> None:
        if transfer._task is not None:
            transfer._task.cancel()
        transfer._task = asyncio.ensure_future(self._pump(transfer, start))
        self._tasks.add(transfer._task)
        transfer._task.add_done_callback(self._tasks.discard)

    # Receiving ------------------------------------------------------------------------

    async def _offered(self, sender: int, offer: FileOffer) -> None:
        key = (True, sender, offer.transfer_id)
        known = self.transfers.get(key)
        if known is not None and not known.state.over:
            if known.sha256 == offer.sha256 and known.size == offer.size:
                # Offered again once accepted: the sender's link dropped (whether or not
                # the relay said so): resume; the person said yes already.
                if known.state is not State.OFFERED:
                    known.state = State.ACTIVE
                    known.offers += 1
                    known.resumed_at = known.done
                    self._notify(known, f"Resuming {known.name} from {self._name(sender)} at "
                                 f"{format_size(known.done)}.")  # fmt: skip
                    await self._acknowledge(known)
                return  # the same offer again while asking or receiving: it stands
            await self._decline(sender, offer.transfer_id)
            return
        name = sanitize_file_name(offer.name)
        if name is None:
            self._notify(Transfer(True, sender, offer.transfer_id, "?", offer.size, offer.sha256,
                                  state=State.DECLINED),
                         f"! {self._name(sender)} offered a file whose name cannot be used "
                         f"({offer.name!r}): refused.")  # fmt: skip
            await self._decline(sender, offer.transfer_id)
            return
        if len(self.open_transfers(sender)) >= limits.MAX_FILE_TRANSFERS_PER_PEER:
            await self._decline(sender, offer.transfer_id)
            return
        transfer = Transfer(
            True, sender, offer.transfer_id, name, offer.size, offer.sha256, offer.chunk_size
        )
        self.transfers[key] = transfer
        task = asyncio.ensure_future(self._consider(transfer, offer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consider(self, transfer: Transfer, offer: FileOffer) -> None:
        try:
            granted = await self._ask(transfer.peer, offer, transfer.name)
        except asyncio.CancelledError:
            granted = False
        if transfer.state is not State.OFFERED:
            return  # cancelled by the sender meanwhile
        if not granted:
            transfer.state = State.DECLINED
            self._notify(transfer, f"You declined {transfer.name}.")
            await self._decline(transfer.peer, transfer.transfer_id)
            return
        try:
            self.downloads.mkdir(parents=True, exist_ok=True)
            part = self.downloads / f"{transfer.name}.{transfer.transfer_id:08x}{PART_SUFFIX}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            transfer._fd = os.open(part, flags, 0o600)
        except OSError as error:
            await self._end(transfer, State.FAILED, f"cannot write to {self.downloads}: {error}")
            return
        transfer.path = part
        transfer._hash = hashlib.sha256()
        transfer.state = State.ACTIVE
        self._notify(transfer, f"Receiving {transfer.name} from {self._name(transfer.peer)}.")
        await self._acknowledge(transfer)
        if transfer.size == 0:
            await self._check(transfer)

    async def _decline(self, sender: int, transfer_id: int) -> None:
        with contextlib.suppress(RelaydeskError):
            await self.member.send_content(FileAnswer(transfer_id, False, 0), sender)

    async def _acknowledge(self, transfer: Transfer) -> None:
        transfer._acked = transfer.done
        with contextlib.suppress(RelaydeskError):
            await self._send(transfer, FileAnswer(transfer.transfer_id, True, transfer.done))

    async def _chunk(self, transfer: Transfer, chunk: FileChunk) -> None:
        if transfer.state is not State.ACTIVE or transfer._fd is None:
            return  # still on its way after an end or an interruption: moot
        if chunk.offset + len(chunk.data) <= transfer.done:
            # Held already: sent again after a resume that started from a stale answer.
            # Say once what is held, so that the sender moves on.
            if transfer._dup_acked != transfer.done:
                transfer._dup_acked = transfer.done
                with contextlib.suppress(RelaydeskError):
                    await self._send(
                        transfer, FileAnswer(transfer.transfer_id, True, transfer.done)
                    )
            return
        if chunk.offset != transfer.done or transfer.done + len(chunk.data) > transfer.size:
            await self._end(transfer, State.FAILED,
                            f"{transfer.name}: a chunk at {chunk.offset} does not follow "
                            f"{transfer.done} of {transfer.size} bytes: nothing kept")  # fmt: skip
            return
        try:
            os.write(transfer._fd, chunk.data)
        except OSError as error:
            await self._end(transfer, State.FAILED, f"cannot write {transfer.name}: {error}")
            return
        assert transfer._hash is not None
        transfer._hash.update(chunk.data)
        transfer.done += len(chunk.data)
        self._notify(transfer, None)
        if transfer.done == transfer.size:
            await self._check(transfer)
        elif transfer.done - transfer._acked >= limits.FILE_ACK_BYTES:
            await self._acknowledge(transfer)

    async def _check(self, transfer: Transfer) -> None:
        """The whole file is here: keep it if its SHA-256 is the offered one."""
        assert transfer._hash is not None and transfer.path is not None
        self._close_part(transfer)
        if transfer._hash.digest() != transfer.sha256:
            await self._end(transfer, State.INTEGRITY_FAILED,
                            f"! {transfer.name} from {self._name(transfer.peer)} does not match "
                            "its SHA-256: deleted, nothing kept.")  # fmt: skip
            return
        try:
            kept = keep_without_overwriting(transfer.path, self.downloads, transfer.name)
        except (OSError, ClientError) as error:
            await self._end(transfer, State.FAILED, f"cannot keep {transfer.name}: {error}")
            return
        transfer.path = kept
        await self._end(transfer, State.COMPLETE,
                        f"Received {kept.name} ({format_size(transfer.size)}) from "
                        f"{self._name(transfer.peer)}, SHA-256 checked: {kept} "
                        "(not opened).")  # fmt: skip

    def _close_part(self, transfer: Transfer) -> None:
        if transfer._fd is not None:
            os.close(transfer._fd)
            transfer._fd = None

    def _discard(self, transfer: Transfer) -> None:
        """An unfinished incoming file leaves nothing behind."""
        self._close_part(transfer)
        if transfer.incoming and transfer.path is not None and transfer.state is not State.COMPLETE:
            with contextlib.suppress(FileNotFoundError):
                transfer.path.unlink()
            transfer.path = None

    # Both ways ------------------------------------------------------------------------

    def _finish(self, transfer: Transfer, state: State, text: str | None) -> None:
        transfer.state = state
        transfer._wake.set()
        if state is not State.COMPLETE:
            self._discard(transfer)
        if transfer._task is not None and transfer._task is not asyncio.current_task():
            transfer._task.cancel()
        self._notify(transfer, text)

    async def _end(self, transfer: Transfer, state: State, text: str | None) -> None:
        """End it here and tell the other side why."""
        self._finish(transfer, state, text)
        reason = {v: k for k, v in _END_STATES.items()}[state]
        with contextlib.suppress(RelaydeskError):
            await self._send(transfer, FileEnd(transfer.transfer_id, reason))

    def _ended(self, transfer: Transfer, reason: FileEndReason) -> None:
        """The other side ended it."""
        who = self._name(transfer.peer)
        if transfer.incoming:
            if reason is FileEndReason.COMPLETE:
                return  # only the receiver says a file is complete
            self._finish(transfer, _END_STATES[reason],
                         f"{who} ended {transfer.name}: {reason.name.lower().replace('_', ' ')}; "
                         "nothing kept.")  # fmt: skip
            return
        texts = {
            FileEndReason.COMPLETE: f"{who} received {transfer.name}: SHA-256 checked.",
            FileEndReason.CANCELLED: f"{who} cancelled {transfer.name}.",
            FileEndReason.INTEGRITY_FAILED: f"! {who} got {transfer.name} with a wrong "
            "SHA-256: they kept nothing.",
            FileEndReason.FAILED: f"! {who} could not take {transfer.name}.",
        }
        if reason is FileEndReason.COMPLETE:
            transfer.done = transfer.size
        self._finish(transfer, _END_STATES[reason], texts[reason])

    async def cancel(self, transfer_id: int | None = None) -> list[Transfer]:
        """Cancel one transfer (by id) or every open one; the other side is told."""
        cancelled = self.find(transfer_id)
        for transfer in cancelled:
            await self._end(transfer, State.CANCELLED, f"Cancelled {transfer.name}.")
        return cancelled

    def _interrupt(self, transfer: Transfer, own_link: bool = False) -> None:
        transfer.state = State.INTERRUPTED
        epoch = self.member.e2e.current
        transfer.epoch_lost = None if own_link else (epoch.number if epoch is not None else 0)
        transfer._wake.set()
        if transfer._task is not None and transfer._task is not asyncio.current_task():
            transfer._task.cancel()
        self._notify(transfer, f"{transfer.name}: the link to {self._name(transfer.peer)} "
                     "dropped; it resumes when you are both back.")  # fmt: skip

    async def _new_epoch(self) -> None:
        """A new epoch: say again what is held of every file under way whose sender holds
        its keys (an answer sealed in an epoch the sender lacked was lost; the sender
        resumes from this one)."""
        if self._reconnecting:
            return
        for transfer in self.open_transfers():
            ready = self._peer_ready(transfer.peer) and transfer._fd is not None
            if transfer.incoming and transfer.state is not State.OFFERED and ready:
                transfer.state = State.ACTIVE
                await self._acknowledge(transfer)

    def link_lost(self) -> None:
        """This member's own link dropped: everything open waits for the reconnect."""
        self._reconnecting = True
        for transfer in self.open_transfers():
            if transfer.state is State.ACTIVE or not transfer.incoming:
                self._interrupt(transfer, own_link=True)

    async def poll(self) -> None:
        """Offer again what was interrupted, once both are in a newer epoch."""
        if self._reconnecting:
            return
        for transfer in self.open_transfers():
            epoch = self.member.e2e.current
            waiting = transfer.state is State.INTERRUPTED and (
                transfer.epoch_lost is None
                or (epoch is not None and epoch.number > transfer.epoch_lost)
            )
            # A resume offer sealed in an epoch the receiver may not hold: offer again.
            unanswered = (
                transfer.state is State.OFFERED
                and transfer.offers > 1
                and epoch is not None
                and epoch.number > transfer._offer_epoch
            )
            if (
                not transfer.incoming
                and (waiting or unanswered)
                and epoch is not None
                and self._peer_ready(transfer.peer)
            ):
                with contextlib.suppress(RelaydeskError):
                    await self._offer(transfer)

    async def handle(self, header: Header, message: AnyMessage) -> bool:
        """Act on one received message; True when it was a file message."""
        if isinstance(message, Roster):
            self._reconnecting = False  # back in (the first roster of a link)
            return False
        if isinstance(message, KeyCommit):
            await self._new_epoch()
            return False
        if isinstance(message, MemberLeft):
            for transfer in self.open_transfers(message.member_id):
                if transfer.incoming and transfer.state is State.OFFERED:
                    self._finish(transfer, State.CANCELLED, None)  # the question is moot
                else:
                    self._interrupt(transfer)
            return False
        if not isinstance(message, FileOffer | FileAnswer | FileChunk | FileEnd):
            return False
        sender = header.sender
        if header.target != self.member.member_id:
            log.warning("a file message from member %d not addressed to this member alone", sender)
            self._notify(
                Transfer(True, sender, message.transfer_id, "?", 0, b"", state=State.FAILED),
                f"! dropped a file message from {self._name(sender)} that was not sent to you "
                "alone",
            )
            return True
        if isinstance(message, FileOffer):
            await self._offered(sender, message)
            return True
        incoming = not isinstance(message, FileAnswer)  # answers come back to a sender
        found = self.transfers.get((incoming, sender, message.transfer_id))
        if isinstance(message, FileEnd) and found is None:
            found = self.transfers.get((False, sender, message.transfer_id))
        if found is None or found.state.over:
            return True
        match message:
            case FileChunk():
                await self._chunk(found, message)
            case FileAnswer():
                self._answered(found, message)
            case FileEnd(_, reason):
                self._ended(found, reason)
        return True

    def close(self) -> None:
        """The session is over: unfinished incoming files leave nothing behind."""
        for task in list(self._tasks):
            task.cancel()
        for transfer in self.transfers.values():
            if not transfer.state.over:
                transfer.state = State.CANCELLED
                self._discard(transfer)
