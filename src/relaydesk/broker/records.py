"""Event detail records: who was in which session, when, how many bytes they moved, and
every request, consent, grant and revoke of presenting and remote control.

The relay reports lifecycle events through a ``RecordSink`` (``Store`` is the one the
embedded server uses). A record holds metadata only — the relay sees nothing else
(SECURITY.md, "What the relay may see") — and is never removed with its session.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from relaydesk.protocol.messages import Role


class RecordKind(StrEnum):
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    JOIN = "join"
    LEAVE = "leave"
    CONSENT_ASKED = "consent_asked"  # a person is asked to present or to give control
    CONSENT_ANSWERED = "consent_answered"  # granted, denied, timed out or cancelled
    GRANT = "grant"  # someone now presents, or holds remote control
    REVOKE = "revoke"  # presenting or remote control ended
    REFUSED = "refused"  # the relay refused a member's frame (input without a grant, forgery)


# What a detail looks like: "what=control asked_by=3 result=granted" (key=value pairs).
MAX_DETAIL_CHARS = 200


def role_name(role: Role | str) -> str:
    """``Role.HOST`` and ``"host"`` alike become ``"host"``, as records spell roles."""
    return role.name.lower() if isinstance(role, Role) else role.lower()


class RecordSink(Protocol):
    """Where the relay reports lifecycle events. Calls are synchronous and may touch a
    database: an asyncio relay calls them through ``asyncio.to_thread``. Events for a
    session the broker does not know are dropped (and logged), never raised."""

    def session_started(self, session_uid: bytes) -> None:
        """The first member reached the relay. Recorded once per session."""

    def member_joined(
        self, session_uid: bytes, member_id: int, display_name: str, role: Role | str
    ) -> None:
        """A member was admitted by the relay."""

    def member_left(
        self, session_uid: bytes, member_id: int, bytes_in: int, bytes_out: int
    ) -> None:
        """A member's connection closed; bytes it sent (in) and was sent (out)."""

    def session_ended(self, session_uid: bytes) -> None:
        """The session is over. Recorded once per session; also ends it at the broker."""

    def member_event(
        self, session_uid: bytes, kind: RecordKind, member_id: int, detail: str
    ) -> None:
        """A consent, grant, revoke or refusal concerning ``member_id``; ``detail`` says
        what (at most MAX_DETAIL_CHARS, key=value pairs)."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    session_id: str
    session_uid: bytes
    kind: RecordKind
    member_id: int | None
    display_name: str | None
    role: str | None
    at: datetime  # UTC
    bytes_in: int
    bytes_out: int
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "session_uid": self.session_uid.hex(),
            "kind": self.kind.value,
            "member_id": self.member_id,
            "display_name": self.display_name,
            "role": self.role,
            "at": self.at.isoformat(),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "detail": self.detail,
        }


CSV_COLUMNS = (
    "session_id",
    "session_uid",
    "kind",
    "member_id",
    "display_name",
    "role",
    "at",
    "bytes_in",
    "bytes_out",
    "detail",
)


def _csv_safe(value: object) -> object:
    """Display names are chosen by whoever joins: one starting with = + - @ would be
    read as a formula by spreadsheet programs (CSV injection). A leading quote stops it."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def records_to_csv(records: Iterable[EventRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        row = record.to_json()
        writer.writerow(["" if row[c] is None else _csv_safe(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def records_to_json(records: Iterable[EventRecord]) -> str:
    return json.dumps([record.to_json() for record in records], indent=2, ensure_ascii=False)
