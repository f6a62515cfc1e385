"""What the relay reports to the broker, and how it reports it without stalling.

The relay is its own trust domain: it imports nothing from ``broker/``. It reports
lifecycle events (sessions, members, consent, grants, meeting controls) through a
``RecordSink``, an interface the broker implements (``broker.store.Store`` in the
embedded server). A record holds metadata only — the relay sees nothing else
(SECURITY.md, "What the relay may see").

Writing a record may wait for a database (SQLite's write lock, a PostgreSQL round trip);
the relay must never stall its switching for that. ``QueuedRecords`` hands every call to
one worker thread, so they stay in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Protocol

from relaydesk.protocol.messages import Role

log = logging.getLogger(__name__)

# What a detail looks like: "what=control asked_by=3 result=granted" (key=value pairs).
MAX_DETAIL_CHARS = 200


class RecordKind(StrEnum):
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    JOIN = "join"
    LEAVE = "leave"
    CONSENT_ASKED = "consent_asked"  # a person is asked to present or to give control
    CONSENT_ANSWERED = "consent_answered"  # granted, denied, timed out or cancelled
    GRANT = "grant"  # someone now presents, or holds remote control
    REVOKE = "revoke"  # presenting or remote control ended
    REFUSED = "refused"  # the relay refused a member's frame or request
    LOBBY = "lobby"  # someone waits in the lobby (reason=approval|host_absent)
    ADMIT = "admit"  # a host let a waiting member in, or refused them
    EXPEL = "expel"  # a host expelled a member
    ROLE = "role"  # a host changed a member's role (handing over host, too)
    LOCK = "lock"  # a host locked or unlocked the session
    PERMISSIONS = "permissions"  # the presenter or a host changed what attendees may do
    RECORDING = "recording"  # a host's client started or stopped recording (state=on|off)


def role_name(role: Role | str) -> str:
    """``Role.HOST`` and ``"host"`` alike become ``"host"``, as records spell roles."""
    return role.name.lower() if isinstance(role, Role) else role.lower()


class RecordSink(Protocol):
    """Where the relay reports lifecycle events. Calls are synchronous and may touch a
    database: the relay calls them through ``QueuedRecords``. Events for a session the
    broker does not know are dropped (and logged), never raised."""

    def session_started(self, session_uid: bytes) -> None:
        """The first member reached the relay. Recorded once per session."""

    def member_joined(
        self,
        session_uid: bytes,
        member_id: int,
        display_name: str,
        role: Role | str,
        email: str = "",
    ) -> None:
        """A member was admitted by the relay (``email`` as its ticket gives it)."""

    def member_left(
        self, session_uid: bytes, member_id: int, bytes_in: int, bytes_out: int
    ) -> None:
        """A member's connection closed; bytes it sent (in) and was sent (out)."""

    def session_ended(self, session_uid: bytes) -> None:
        """The session is over. Recorded once per session; also ends it at the broker."""

    def session_locked(self, session_uid: bytes, locked: bool, by: int) -> None:
        """A host locked (or unlocked) the session: while locked the broker admits
        nobody new."""

    def member_event(
        self, session_uid: bytes, kind: RecordKind, member_id: int, detail: str
    ) -> None:
        """A consent, grant, revoke, refusal or meeting control concerning
        ``member_id``; ``detail`` says what (at most MAX_DETAIL_CHARS, key=value pairs)."""


class QueuedRecords:
    """A RecordSink that hands every call to ``sink`` on a single worker thread."""

    def __init__(self, sink: RecordSink) -> None:
        self._sink = sink
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-records")

    def _submit(self, call: Callable[[], None]) -> None:
        def run() -> None:
            try:
                call()
            except Exception:
                log.exception("an event record could not be written")

        self._worker.submit(run)

    def session_started(self, session_uid: bytes) -> None:
        self._submit(lambda: self._sink.session_started(session_uid))

    def member_joined(
        self,
        session_uid: bytes,
        member_id: int,
        display_name: str,
        role: Role | str,
        email: str = "",
    ) -> None:
        self._submit(
            lambda: self._sink.member_joined(session_uid, member_id, display_name, role, email)
        )

    def member_left(
        self, session_uid: bytes, member_id: int, bytes_in: int, bytes_out: int
    ) -> None:
        self._submit(lambda: self._sink.member_left(session_uid, member_id, bytes_in, bytes_out))

    def session_ended(self, session_uid: bytes) -> None:
        self._submit(lambda: self._sink.session_ended(session_uid))

    def session_locked(self, session_uid: bytes, locked: bool, by: int) -> None:
        self._submit(lambda: self._sink.session_locked(session_uid, locked, by))

    def member_event(
        self, session_uid: bytes, kind: RecordKind, member_id: int, detail: str
    ) -> None:
        self._submit(lambda: self._sink.member_event(session_uid, kind, member_id, detail))

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._worker.shutdown(wait=True)
