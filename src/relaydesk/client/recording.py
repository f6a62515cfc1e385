"""A host's client recording the session (docs/meetings.md, "Recording"; protocol §3.23).

The host asks the relay (``RECORDING``); nothing is written until the relay announces
the recording to everyone, and the file ends when the relay announces that it stopped
(asked by this host or another, the presenter's ``may_record`` turned off, this member
no longer a host). ``SessionRecorder`` sits on the member's link as its ``tap``: it sees
the announcement frame itself and keeps it, the first entry after the START.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.client.member import Member
from relaydesk.errors import RecordingError, RelaydeskError
from relaydesk.protocol.frames import HEADER_SIZE, Frame, FrameType
from relaydesk.protocol.messages import Recording, Refresh, Roster, RosterEntry, decode
from relaydesk.recording.format import Start
from relaydesk.recording.writer import RecordingWriter

Say = Callable[[str], None]


def default_path(session_id: str, clock: Callable[[], float] = time.time) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    return Path(f"relaydesk-{session_id}-{stamp}.rdrec")


class SessionRecorder:
    """The recording of one host's session, and what the relay says about it."""

    def __init__(
        self,
        member: Member,
        session_id: str,
        name: str,
        key: Callable[[], Ed25519PrivateKey],
        say: Say,
        keyframe: Callable[[], None] | None = None,
    ) -> None:
        self.member = member
        self.session_id = session_id
        self.name = name
        self._key = key  # the profile's recording key, made on first use (when recording)
        self._say = say
        self._keyframe = keyframe  # this host presents: its next picture must be whole
        self.wanted: Path | None = None  # asked for, not announced yet
        self.writer: RecordingWriter | None = None
        self.finished: list[Path] = []
        member.tap = self

    @property
    def recording(self) -> bool:
        return self.writer is not None

    async def start(self, path: Path) -> None:
        """Ask the relay; the file is made once it announces the recording."""
        if self.writer is not None:
            raise RecordingError(f"already recording to {self.writer.path}")
        if path.exists():
            raise RecordingError(f"{path} exists: a recording never replaces a file")
        if not path.parent.is_dir():
            raise RecordingError(f"no folder {path.parent} to keep {path.name} in")
        self._key()  # made (or read) now: an unreadable key stops it before anyone is told
        self.wanted = path
        await self.member.send(Recording(self.member.member_id, True))

    async def stop(self) -> None:
        if self.writer is None:
            raise RecordingError("you are not recording")
        await self.member.send(Recording(self.member.member_id, False))

    def close(self) -> None:
        """The session is over for this client: the file ends here (signed END)."""
        self._finish()

    async def announced(self, notice: Recording) -> None:
        """After the relay's announcement of this host's recording: the picture of the
        screen shared now, whole, for the video to start from."""
        if notice.member_id != self.member.member_id or not notice.active:
            return
        presenter = self.member.presenter
        if presenter == self.member.member_id and self._keyframe is not None:
            self._keyframe()
        elif presenter is not None:
            with contextlib.suppress(RelaydeskError):
                await self.member.send(Refresh(0))

    # The member's tap (client/member.py FrameTap) ---------------------------------------

    def frame(self, data: bytes, sent: bool) -> None:
        if not sent and len(data) > HEADER_SIZE and data[1] == FrameType.RECORDING:
            self._notice(data)
            return
        if self.writer is not None:
            self.writer.frame(data, sent)
            if not sent and data[1] == FrameType.ROSTER:
                self._still_announced(data)

    def _still_announced(self, data: bytes) -> None:
        """A ROSTER (after a reconnect) that does not name this host as recording: the
        session moved to a relay that never announced it. Nothing is recorded that the
        others are not told of: the file ends here; /record starts a new one."""
        try:
            roster = decode(FrameType.ROSTER, Frame.parse(data).body)
        except RelaydeskError:
            return
        if isinstance(roster, Roster) and roster.recording != self.member.member_id:
            self._say("! The recording stopped: the session moved to another relay, where it "
                      "was not announced (/record starts a new one).")  # fmt: skip
            self._finish()

    def epoch(self, number: int, leader: int, members: frozenset[int], secret: bytes) -> None:
        if self.writer is not None:
            self.writer.epoch(number, leader, members, secret)

    def _notice(self, data: bytes) -> None:
        try:
            notice = decode(FrameType.RECORDING, Frame.parse(data).body)
        except RelaydeskError:
            return
        assert isinstance(notice, Recording)
        mine = notice.member_id == self.member.member_id
        if mine and notice.active and self.writer is None and self.wanted is not None:
            self._open(self.wanted)
            self.wanted = None
        if self.writer is not None:
            self.writer.frame(data, sent=False)
        if mine and not notice.active:
            self.wanted = None
            self._finish()

    def _open(self, path: Path) -> None:
        member, key = self.member, self._key()
        start = Start(
            session_uid=member.e2e.session_uid,
            session_id=self.session_id,
            recorder=member.member_id,
            recorder_name=self.name,
            recorder_key=key.public_key().public_bytes_raw(),
            broker_key=member.join.broker_public_key,
            presenter=member.presenter or 0,
        )
        tickets = [
            RosterEntry(m, role, member.tickets[m])
            for m, role in sorted(member.roles.items())
            if m in member.tickets
        ]
        try:
            self.writer = RecordingWriter(path, key, start, tickets)
        except RecordingError as error:
            self._say(f"! {error}")
            return
        for epoch in member.e2e.epochs:
            self.writer.epoch(epoch.number, epoch.leader, epoch.members, epoch.secret)

    def _finish(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.finish()
            self.finished.append(writer.path)
            self._say(f"Recording written to {writer.path} ({writer.entries} entries, "
                      f"{writer.bytes} bytes); check it with: relaydesk recording verify "
                      f"{writer.path}")  # fmt: skip
