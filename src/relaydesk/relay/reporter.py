"""The relay's reports to its broker: event records and heartbeats, signed HTTPS POSTs.

Each request carries ``X-Relaydesk-Relay: NAME`` and ``X-Relaydesk-Signature`` (Ed25519
by the relay key over ``b"relaydesk/v1 relay-report\\n" + body``); the body's ``counter``
only grows (from ``time.time_ns()``), so the broker refuses a replayed request, and its
``sent_at`` bounds how old one may be (docs/protocol.md §9, "Relay to broker").
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk import limits
from relaydesk.errors import BrokerLinkError
from relaydesk.protocol.messages import Role
from relaydesk.relay.identity import sign_report
from relaydesk.relay.records import RecordKind, role_name

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5  # after a failed records request, before trying again


@dataclass(frozen=True)
class BrokerLink:
    """How this relay reaches its broker: no broker code, only an address and keys."""

    url: str  # https://HOST:PORT
    ssl_context: ssl.SSLContext  # pinned to the broker's certificate (client/tls.py)
    key: Ed25519PrivateKey
    name: str


class Signer:
    """Signs and posts requests; one counter for all of them, strictly increasing."""

    def __init__(self, link: BrokerLink) -> None:
        self.link = link
        self._counter = time.time_ns()
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=link.url, verify=link.ssl_context, timeout=10.0)

    def body(self, fields: dict[str, Any]) -> bytes:
        with self._lock:
            self._counter = max(self._counter + 1, time.time_ns())
            counter = self._counter
        return json.dumps({"counter": counter, "sent_at": time.time(), **fields}).encode()

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/json",
            "X-Relaydesk-Relay": self.link.name,
            "X-Relaydesk-Signature": sign_report(self.link.key, body),
        }
        try:
            response = self._client.post(path, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise BrokerLinkError(f"cannot reach the broker: {error}") from None
        if response.status_code != 200:
            raise BrokerLinkError(
                f"the broker refused {path}: {response.status_code} {response.text[:200]}"
            )
        answer = response.json()
        return answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        self._client.close()


class RemoteRecords:
    """A RecordSink that sends calls to ``POST /api/relays/records`` in batches, in order,
    on one worker thread; retried until the broker accepts them. At most
    RELAY_REPORT_QUEUE records wait; beyond that new ones are dropped (and counted)."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self.dropped = 0
        self.failures = 0
        self._worker = threading.Thread(target=self._run, name="relay-reports", daemon=True)
        self._worker.start()

    def _put(self, call: str, session_uid: bytes, **fields: Any) -> None:
        with self._wake:
            if len(self._queue) >= limits.RELAY_REPORT_QUEUE:
                self.dropped += 1
                return
            self._queue.append({"call": call, "session_uid": session_uid.hex(), **fields})
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    return
                batch = [
                    self._queue[i]
                    for i in range(min(len(self._queue), limits.MAX_RELAY_REPORT_RECORDS))
                ]
            try:
                self._signer.post("/api/relays/records", self._signer.body({"records": batch}))
            except BrokerLinkError as error:
                self.failures += 1
                log.warning("event records not delivered yet: %s", error)
                if self._stopping:
                    return
                time.sleep(RETRY_SECONDS)
                continue
            with self._wake:
                for _ in batch:
                    self._queue.popleft()

    # RecordSink -----------------------------------------------------------------------

    def session_started(self, session_uid: bytes) -> None:
        self._put("session_started", session_uid)

    def member_joined(
        self,
        session_uid: bytes,
        member_id: int,
        display_name: str,
        role: Role | str,
        email: str = "",
    ) -> None:
        self._put(
            "member_joined",
            session_uid,
            member_id=member_id,
            display_name=display_name,
            role=role_name(role),
            email=email,
        )

    def member_left(
        self, session_uid: bytes, member_id: int, bytes_in: int, bytes_out: int
    ) -> None:
        self._put(
            "member_left", session_uid, member_id=member_id, bytes_in=bytes_in, bytes_out=bytes_out
        )

    def session_ended(self, session_uid: bytes) -> None:
        self._put("session_ended", session_uid)

    def session_locked(self, session_uid: bytes, locked: bool, by: int) -> None:
        self._put("session_locked", session_uid, locked=locked, by=by)

    def member_event(
        self, session_uid: bytes, kind: RecordKind, member_id: int, detail: str
    ) -> None:
        self._put("member_event", session_uid, kind=str(kind), member_id=member_id, detail=detail)

    def close(self) -> None:
        """Send what is queued (one last try each), then stop."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._worker.join(timeout=10)


def heartbeat(signer: Signer, status: dict[str, Any]) -> list[bytes]:
    """One ``POST /api/relays/heartbeat`` (blocking): the listed sessions the broker ended."""
    answer = signer.post("/api/relays/heartbeat", signer.body(status))
    ended = answer.get("ended", [])
    if not isinstance(ended, list):
        return []
    uids: list[bytes] = []
    for text in ended[:10_000]:
        try:
            uids.append(bytes.fromhex(str(text)))
        except ValueError:
            continue
    return uids
