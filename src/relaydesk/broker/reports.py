"""Signed reports from relays: heartbeats and event records (docs/protocol.md §11,
"Relay to broker").

A request is checked in this order: its size (RelayReportTooLarge, while reading, in the
API), the relay's name and signature over REPORT_CONTEXT + body (RelayReportRefused), the
body's form (RelayReportInvalid), ``sent_at`` against the clock (RelayReportRefused),
then its ``counter`` is raised in one compare-and-set UPDATE (RelayReportReplayed if it is
not above the last). Only then does the report do anything.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from relaydesk import limits
from relaydesk.broker.relays import Heartbeat, RelayRegistry
from relaydesk.broker.report_schemas import (
    HeartbeatRequest,
    RecordCall,
    RecordsRequest,
    _Report,
)
from relaydesk.broker.store import Clock
from relaydesk.errors import (
    RelayReportInvalid,
    RelayReportRefused,
    RelayReportReplayed,
)
from relaydesk.relay.records import RecordKind, RecordSink

log = logging.getLogger(__name__)

RELAY_HEADER = "X-Relaydesk-Relay"
SIGNATURE_HEADER = "X-Relaydesk-Signature"
SIGNATURE_BYTES = 64
NOT_SIGNED = "This request is not signed by a registered relay."

Report = TypeVar("Report", bound=_Report)


@dataclass(frozen=True, slots=True)
class RecordsOutcome:
    applied: int
    ignored: int  # about sessions whose home is another relay (or unknown)


def _signature(text: str) -> bytes:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise RelayReportRefused(NOT_SIGNED) from None
    if len(raw) != SIGNATURE_BYTES:
        raise RelayReportRefused(NOT_SIGNED)
    return raw


class RelayReports:
    """Checks and applies relays' signed requests; records go to ``sink``."""

    def __init__(self, registry: RelayRegistry, sink: RecordSink, clock: Clock) -> None:
        self.registry = registry
        self.sink = sink
        self.clock = clock

    def _checked(self, name: str, signature: str, body: bytes, model: type[Report]) -> Report:
        if len(signature) > 2 * SIGNATURE_BYTES or not self.registry.verify(
            name, _signature(signature), body
        ):
            log.info("refused a relay report claiming to be from %r", name[:40])
            raise RelayReportRefused(NOT_SIGNED)
        try:
            report = model.model_validate_json(body)
        except ValidationError as error:
            problems = "; ".join(
                ".".join(str(part) for part in item["loc"]) + ": " + item["msg"]
                for item in error.errors()[:5]
            )
            raise RelayReportInvalid(f"Invalid relay report: {problems}.") from None
        skew = abs(report.sent_at - self.clock())
        if skew > limits.RELAY_REPORT_CLOCK_SKEW_SECONDS:
            log.warning("relay %s reports a time %.0f s off the broker's clock", name, skew)
            raise RelayReportRefused(
                "This report's sent_at is too far from the broker's clock; check both clocks."
            )
        return report

    def _replayed(self, name: str) -> RelayReportReplayed:
        log.warning("relay %s sent a counter that is not above its last one", name)
        return RelayReportReplayed("This report's counter is not above the last one (a replay).")

    def heartbeat(self, name: str, signature: str, body: bytes) -> list[str]:
        """Store the relay's load and addresses; the listed sessions the broker ended."""
        report = self._checked(name, signature, body, HeartbeatRequest)
        beat = Heartbeat(report.wss_url, report.tcp_address, report.fingerprint,
                         report.connections)  # fmt: skip
        if not self.registry.accept_counter(name, report.counter, beat):
            raise self._replayed(name)
        listed = [bytes.fromhex(uid) for uid in report.sessions]
        return sorted(uid.hex() for uid in self.registry.ended_sessions(listed))

    def records(self, name: str, signature: str, body: bytes) -> RecordsOutcome:
        """Apply the records about sessions homed on this relay, in order; others are
        ignored (a relay reports only for its own sessions)."""
        report = self._checked(name, signature, body, RecordsRequest)
        if not self.registry.accept_counter(name, report.counter):
            raise self._replayed(name)
        uids = [bytes.fromhex(record.session_uid) for record in report.records]
        homed = self.registry.sessions_homed_on(name, uids)
        applied = 0
        for record, uid in zip(report.records, uids, strict=True):
            if uid in homed:
                self._apply(record, uid)
                applied += 1
        ignored = len(report.records) - applied
        if ignored:
            log.warning("relay %s reported %d records of sessions not homed on it", name, ignored)
        return RecordsOutcome(applied, ignored)

    def _apply(self, record: RecordCall, uid: bytes) -> None:
        # RecordCall's validator made sure each call has the fields it needs.
        sink = self.sink
        member = record.member_id or 0
        match record.call:
            case "session_started":
                sink.session_started(uid)
            case "member_joined":
                sink.member_joined(uid, member, record.display_name or "", record.role or "",
                                   record.email)  # fmt: skip
            case "member_left":
                sink.member_left(uid, member, record.bytes_in or 0, record.bytes_out or 0)
            case "session_ended":
                sink.session_ended(uid)
            case "session_locked":
                sink.session_locked(uid, bool(record.locked), record.by or 0)
            case "member_event":
                sink.member_event(uid, RecordKind(record.kind or ""), member, record.detail or "")
