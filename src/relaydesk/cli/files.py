"""Files at the terminal: ``/send NAME PATH``, ``/cancel [ID]``, ``/files``; the
question for every offered file; a rich progress bar per transfer, both ways
(docs/meetings.md, "Sending files")."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import platformdirs
from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from relaydesk.client.files import State, Transfer, Transfers, format_size
from relaydesk.client.member import Member
from relaydesk.errors import RelaydeskError
from relaydesk.protocol.frames import Header
from relaydesk.protocol.messages import AnyMessage, FileOffer

Say = Callable[[str], None]
AskPerson = Callable[[str], Awaitable[bool | None]]

HELP = """Files (the receiver is asked every time; nothing received is opened):
  /send NAME PATH       offer a file to someone
  /cancel [ID]          cancel a transfer (all of yours without an ID)
  /files                transfers under way"""


def default_downloads() -> Path:
    return Path(platformdirs.user_downloads_dir())


class FileDesk:
    """The person's side of ``Transfers``: asks, tells and shows progress."""

    def __init__(self, member: Member, downloads: Path, ask: AskPerson, say: Say) -> None:
        self.member = member
        self.say = say
        self._ask_person = ask
        self.transfers = Transfers(member, downloads, self._ask, self._notify)
        self._progress: Progress | None = None
        self._bars: dict[tuple[bool, int, int], TaskID] = {}

    def _name(self, member_id: int) -> str:
        return self.member.names.get(member_id, f"member {member_id}")

    async def _ask(self, sender: int, offer: FileOffer, name: str) -> bool | None:
        shown = name if name == offer.name else f"{name} (offered as {offer.name!r})"
        return await self._ask_person(
            f"{self._name(sender)} wants to send you {shown} ({format_size(offer.size)}). Accept?"
        )

    # Progress -------------------------------------------------------------------------

    def _notify(self, transfer: Transfer, text: str | None) -> None:
        if text:
            self.say(text)
        if transfer.state is State.ACTIVE:
            self._bar(transfer)
        elif transfer.key in self._bars:
            self._drop_bar(transfer)

    def _bar(self, transfer: Transfer) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=RichConsole(file=sys.stdout),
                transient=True,
            )
            self._progress.start()
        task = self._bars.get(transfer.key)
        if task is None:
            arrow = "from" if transfer.incoming else "to"
            description = f"{transfer.name} {arrow} {self._name(transfer.peer)}"
            task = self._bars[transfer.key] = self._progress.add_task(
                description, total=transfer.size
            )
        self._progress.update(task, completed=transfer.done)

    def _drop_bar(self, transfer: Transfer) -> None:
        task = self._bars.pop(transfer.key)
        if self._progress is None:
            return
        self._progress.remove_task(task)
        if not self._bars:
            self._progress.stop()
            self._progress = None

    # Commands and messages ------------------------------------------------------------

    async def command(self, verb: str, rest: str, find: Callable[[str], int]) -> None:
        """``/send NAME PATH`` (the path may have spaces), ``/cancel [ID]``, ``/files``."""
        args = rest.split()
        match verb, args:
            case "send", [who, _, *_]:
                await self.send(find(who), rest.strip().partition(" ")[2].strip())
            case "cancel", ([] | [_]):
                await self.cancel(args[0] if args else None)
            case "files", []:
                self.list()
            case _:
                self.say("! usage: /send NAME PATH, /cancel [ID], /files")

    async def send(self, peer: int, path: str) -> None:
        transfer = await self.transfers.send_file(peer, Path(path).expanduser())
        self.say(f"  transfer {transfer.transfer_id:08x}: /cancel {transfer.transfer_id:08x}")

    async def cancel(self, transfer_id: str | None) -> None:
        number = None
        if transfer_id is not None:
            try:
                number = int(transfer_id, 16)
            except ValueError:
                raise RelaydeskError(f"not a transfer id: {transfer_id} (see /files)") from None
        if not await self.transfers.cancel(number):
            self.say("No transfer to cancel (see /files).")

    def list(self) -> None:
        open_ = self.transfers.open_transfers()
        if not open_:
            self.say("  No transfers under way.")
        for t in open_:
            way = "from" if t.incoming else "to"
            done = f"{format_size(t.done)} of {format_size(t.size)}"
            self.say(f"  {t.transfer_id:08x}: {t.name} {way} {self._name(t.peer)}, {done} "
                     f"({t.state.value})")  # fmt: skip

    async def handle(self, header: Header, message: AnyMessage) -> bool:
        """What arrives goes here first: True when it was a file message."""
        handled = await self.transfers.handle(header, message)
        await self.transfers.poll()
        return handled

    def close(self) -> None:
        self.transfers.close()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
