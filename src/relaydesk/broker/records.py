"""Event detail records: who was in which session, when, how many bytes they moved, and
every request, consent, grant and revoke of presenting and remote control.

The relay reports lifecycle events through the ``RecordSink`` interface it defines
(``relaydesk.relay.records``); ``Store`` implements it. A record holds metadata only —
the relay sees nothing else (SECURITY.md, "What the relay may see") — and is never
removed with its session.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from relaydesk.csv_cells import csv_safe
from relaydesk.relay.records import RecordKind


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records: of one session ID (9 digits; IDs are reused over time, so with
    from/to for one occurrence), of one organizer's sessions (username), at or after
    ``since`` and before ``until`` (UTC). None: no condition."""

    session_id: str | None = None
    organizer: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class MemberSummary:
    """One member's time in one session, from its join and leave records: when it was
    first admitted and last left, how long that was, and the bytes of all its links."""

    session_id: str
    session_uid: bytes
    organizer: str | None
    member_id: int
    display_name: str | None
    email: str | None
    role: str | None
    joined_at: datetime
    left_at: datetime | None  # None: still in the session (or its relay never said)
    bytes_in: int  # what the member sent to the relay
    bytes_out: int  # what the relay sent to the member

    @property
    def duration_seconds(self) -> float | None:
        if self.left_at is None:
            return None
        return round((self.left_at - self.joined_at).total_seconds(), 3)

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "session_uid": self.session_uid.hex(),
            "organizer": self.organizer,
            "member_id": self.member_id,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "joined_at": self.joined_at.isoformat(),
            "left_at": None if self.left_at is None else self.left_at.isoformat(),
            "duration_seconds": self.duration_seconds,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


SUMMARY_COLUMNS = (
    "session_id",
    "session_uid",
    "organizer",
    "member_id",
    "display_name",
    "email",
    "role",
    "joined_at",
    "left_at",
    "duration_seconds",
    "bytes_in",
    "bytes_out",
)


def member_summaries(
    records: Iterable[EventRecord],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[MemberSummary]:
    """Per member of each session (first join order): from its join and leave records,
    oldest first. Only members first admitted at or after ``since`` and before
    ``until``; a member who reconnected to another relay has several joins and leaves,
    and its summary spans them, with the bytes of every leave."""
    found: dict[tuple[bytes, int], MemberSummary] = {}
    for record in records:
        if record.member_id is None:
            continue
        key = (record.session_uid, record.member_id)
        summary = found.get(key)
        if record.kind is RecordKind.JOIN and summary is None:
            found[key] = MemberSummary(
                session_id=record.session_id,
                session_uid=record.session_uid,
                organizer=record.organizer,
                member_id=record.member_id,
                display_name=record.display_name,
                email=record.email,
                role=record.role,
                joined_at=record.at,
                left_at=None,
                bytes_in=0,
                bytes_out=0,
            )
        elif record.kind is RecordKind.LEAVE and summary is not None:
            found[key] = replace(
                summary,
                left_at=record.at,
                bytes_in=summary.bytes_in + record.bytes_in,
                bytes_out=summary.bytes_out + record.bytes_out,
            )
    return [
        summary
        for summary in found.values()
        if (since is None or summary.joined_at >= since)
        and (until is None or summary.joined_at < until)
    ]


def summaries_to_csv(summaries: Iterable[MemberSummary]) -> str:
    return _csv(SUMMARY_COLUMNS, (summary.to_json() for summary in summaries))


def summaries_to_json(summaries: Iterable[MemberSummary]) -> str:
    return json.dumps([s.to_json() for s in summaries], indent=2, ensure_ascii=False)


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
    email: str | None = None  # as the member gave it when joining (in its ticket)
    organizer: str | None = None  # the username of the session's organizer

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
            "email": self.email,
            "organizer": self.organizer,
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
    "email",  # after the columns of earlier versions, which keep their places
    "organizer",
)


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else csv_safe(row[c]) for c in columns])
    return out.getvalue()


def records_to_csv(records: Iterable[EventRecord]) -> str:
    return _csv(CSV_COLUMNS, (record.to_json() for record in records))


def records_to_json(records: Iterable[EventRecord]) -> str:
    return json.dumps([record.to_json() for record in records], indent=2, ensure_ascii=False)
