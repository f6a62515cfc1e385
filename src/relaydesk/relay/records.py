"""Event records from the relay, written off the event loop.

Writing a record may wait for the database (SQLite's write lock, a PostgreSQL round
trip); the relay must never stall its switching for that. Calls are queued to one worker
thread, so they stay in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from relaydesk.broker.records import RecordKind, RecordSink
from relaydesk.protocol.messages import Role

log = logging.getLogger(__name__)


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
        self, session_uid: bytes, member_id: int, display_name: str, role: Role | str
    ) -> None:
        self._submit(lambda: self._sink.member_joined(session_uid, member_id, display_name, role))

    def member_left(
        self, session_uid: bytes, member_id: int, bytes_in: int, bytes_out: int
    ) -> None:
        self._submit(lambda: self._sink.member_left(session_uid, member_id, bytes_in, bytes_out))

    def session_ended(self, session_uid: bytes) -> None:
        self._submit(lambda: self._sink.session_ended(session_uid))

    def member_event(
        self, session_uid: bytes, kind: RecordKind, member_id: int, detail: str
    ) -> None:
        self._submit(lambda: self._sink.member_event(session_uid, kind, member_id, detail))

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._worker.shutdown(wait=True)
