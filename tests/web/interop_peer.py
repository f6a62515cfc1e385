"""The Python side of the browser client's interoperability tests (tests/web/*.test.mjs).

Run by ``node --test`` as a child process: one JSON request per line on stdin, one JSON
answer per line on stdout. It holds one Python member of a session (``EndToEnd``) whose
other members are JavaScript ones, so that frames and commits cross between the two
implementations; and it decodes batches of bytes so that the JavaScript decoders can be
compared with the Python ones on the same inputs (differential fuzzing).

Bytes travel as hex; message fields as the typed JSON of tests/vectors/README.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.errors import RelaydeskError
from relaydesk.protocol import keys as ks
from relaydesk.protocol.e2e import EndToEnd
from relaydesk.protocol.frames import Flags, Frame, FrameType
from relaydesk.protocol.messages import KeyCommit, Role, decode, pack
from relaydesk.protocol.tickets import Ticket, read_ticket, sign_ticket

# Run as a script (sys.path[0] is tests/web): the typed JSON helpers live with the vectors.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from vectors.generate import RELAY_URL, from_json, to_json


def outcome(error: Exception) -> dict[str, Any]:
    return {"error": type(error).__name__, "text": str(error)}


class Peer:
    def __init__(self) -> None:
        self.e2e: EndToEnd | None = None

    @property
    def member(self) -> EndToEnd:
        assert self.e2e is not None, "setup first"
        return self.e2e

    def setup(self, request: dict[str, Any]) -> dict[str, Any]:
        """A session: the broker and the Python member are made here; the JavaScript
        members bring their public keys. Every member's ticket is signed and added."""
        session_uid = os.urandom(16)
        broker = Ed25519PrivateKey.generate()
        expires_at = int(time.time()) + 300
        keys = ks.MemberKeys.generate(os.urandom)
        python_id = request["python"]["id"]
        tickets = {}
        for member in [request["python"], *request["javascript"]]:
            is_python = member["id"] == python_id
            ticket = Ticket(
                session_uid,
                member["id"],
                member["name"],
                Role[member["role"]],
                keys.agreement_public if is_python else bytes.fromhex(member["agreement"]),
                keys.ed25519_public if is_python else bytes.fromhex(member["ed25519"]),
                RELAY_URL,
                expires_at,
            )
            tickets[member["id"]] = sign_ticket(ticket, broker)
        self.e2e = EndToEnd(session_uid, python_id, keys, broker.public_key())
        for blob in tickets.values():
            self.e2e.add_member(blob, time.time())
        return {
            "session_uid": session_uid.hex(),
            "broker_public": broker.public_key().public_bytes_raw().hex(),
            "tickets": {str(member_id): blob.hex() for member_id, blob in tickets.items()},
        }

    def start_epoch(self, request: dict[str, Any]) -> dict[str, Any]:
        frame = self.member.start_epoch(os.urandom, time.time())
        return {"frame": frame.serialize().hex(), "security_code": self.member.security_code}

    def apply_commit(self, request: dict[str, Any]) -> dict[str, Any]:
        frame = Frame.parse(bytes.fromhex(request["frame"]))
        commit = decode(frame.header.type, frame.body)
        assert isinstance(commit, KeyCommit)
        epoch = self.member.apply_commit(frame.header, commit, time.time())
        return {"epoch": epoch.number, "security_code": epoch.security_code}

    def seal(self, request: dict[str, Any]) -> dict[str, Any]:
        frame_type = FrameType[request["type"]]
        message = decode(frame_type, pack(from_json(request["fields"])))
        frame = self.member.seal(
            message,  # type: ignore[arg-type]
            request["target"],
            Flags(request.get("flags", 0)),
        )
        return {"frame": frame.serialize().hex()}

    def open(self, request: dict[str, Any]) -> dict[str, Any]:
        frame = Frame.parse(bytes.fromhex(request["frame"]))
        message = self.member.open(frame, request.get("now", time.time()))
        return {"type": message.TYPE.name, "fields": to_json(message.to_fields())}

    def remove_member(self, request: dict[str, Any]) -> dict[str, Any]:
        self.member.remove_member(request["id"])
        return {"is_leader": self.member.is_leader}

    def decode_many(self, request: dict[str, Any]) -> dict[str, Any]:
        """Decode each body as its frame type: the fields, or the error's class name."""
        results: list[dict[str, Any]] = []
        for case in request["cases"]:
            try:
                message = decode(FrameType[case["type"]], bytes.fromhex(case["body"]))
            except RelaydeskError as error:
                results.append({"error": type(error).__name__})
            else:
                results.append({"fields": to_json(message.to_fields())})
        return {"results": results}

    def parse_frames(self, request: dict[str, Any]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for data in request["frames"]:
            try:
                frame = Frame.parse(bytes.fromhex(data))
            except RelaydeskError as error:
                results.append({"error": type(error).__name__})
            else:
                results.append({"type": int(frame.header.type), "body": frame.body.hex()})
        return {"results": results}

    def read_tickets(self, request: dict[str, Any]) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        for data in request["tickets"]:
            try:
                _, _, ticket = read_ticket(bytes.fromhex(data))
            except RelaydeskError as error:
                results.append({"error": type(error).__name__})
            else:
                results.append({"fields": to_json(ticket.to_fields())})
        return {"results": results}


def main() -> None:
    peer = Peer()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = getattr(peer, request["command"])(request)
        except RelaydeskError as error:
            answer = outcome(error)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
