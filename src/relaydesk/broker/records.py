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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relaydesk.relay.records import RecordKind


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
    "email",  # last, so that the columns of earlier versions keep their places
)


def _csv_safe(value: object) -> object:
    """Display names and e-mail addresses are chosen by whoever joins: one starting with
    = + - @ would be read as a formula by spreadsheet programs (CSV injection). A leading
    quote stops it."""
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
