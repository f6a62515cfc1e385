"""Bodies of the relays' signed requests to the broker and their answers (docs/protocol.md
§11, "Relay to broker"), as relay/reporter.py sends them. Every field is bounded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relaydesk import limits
from relaydesk.protocol.messages import Role
from relaydesk.relay.records import MAX_DETAIL_CHARS, RecordKind

ROLE_NAMES = frozenset(role.name.lower() for role in Role)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_HEARTBEAT_SESSIONS = 20_000  # the sessions one heartbeat lists (hex uids)
MAX_CONNECTIONS = 10**9
MAX_TCP_ADDRESS_CHARS = 300
MAX_COUNTER = 2**63 - 1  # a BIGINT column holds it
SessionUidHex = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="hex, 16 bytes")]
RecordCallName = Literal[
    "session_started",
    "member_joined",
    "member_left",
    "session_ended",
    "session_locked",
    "member_event",
]
NEEDED_FIELDS: dict[str, tuple[str, ...]] = {
    "member_joined": ("member_id", "display_name", "role"),
    "member_left": ("member_id", "bytes_in", "bytes_out"),
    "session_locked": ("locked", "by"),
    "member_event": ("kind", "member_id", "detail"),
}


class _Report(_Body):
    counter: int = Field(
        ge=1, le=MAX_COUNTER, description="above every counter this relay sent before"
    )
    sent_at: float = Field(
        ge=0, le=2**40, description="Unix seconds; within 60 s of the broker's clock"
    )


class HeartbeatRequest(_Report):
    wss_url: str = Field(
        pattern=r"^wss://", max_length=limits.MAX_RELAY_URL_CHARS, description="wss://.../relay"
    )
    tcp_address: str | None = Field(
        default=None, max_length=MAX_TCP_ADDRESS_CHARS, description="host:port, direct TLS"
    )
    fingerprint: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of its TLS certificate"
    )
    connections: int = Field(ge=0, le=MAX_CONNECTIONS, description="open member connections")
    sessions: list[SessionUidHex] = Field(
        default_factory=list,
        max_length=MAX_HEARTBEAT_SESSIONS,
        description="the sessions it serves",
    )
    nats: bool = Field(default=False, description="its NATS bridge is connected")


class HeartbeatAnswer(_Body):
    ended: list[str] = Field(description="hex uids among `sessions` that the broker ended")


class RecordCall(_Body):
    """One call of the relay's RecordSink (relay/records.py), as the reporter sends it."""

    call: RecordCallName
    session_uid: SessionUidHex
    member_id: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    display_name: str | None = Field(default=None, max_length=limits.MAX_DISPLAY_NAME_CHARS)
    role: str | None = Field(default=None, max_length=16)
    email: str = Field(default="", max_length=limits.MAX_EMAIL_CHARS)
    bytes_in: int | None = Field(default=None, ge=0, le=MAX_COUNTER)
    bytes_out: int | None = Field(default=None, ge=0, le=MAX_COUNTER)
    locked: bool | None = None
    by: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    kind: str | None = Field(default=None, max_length=16)
    detail: str | None = Field(default=None, max_length=MAX_DETAIL_CHARS)

    @model_validator(mode="after")
    def _complete(self) -> RecordCall:
        missing = [name for name in NEEDED_FIELDS.get(self.call, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.call} needs {', '.join(missing)}")
        if self.kind is not None and self.kind not in RecordKind.__members__.values():
            raise ValueError(f"{self.kind!r} is not a record kind")
        if self.role is not None and self.role not in ROLE_NAMES:
            raise ValueError(f"{self.role!r} is not a role")
        return self


class RecordsRequest(_Report):
    records: list[RecordCall] = Field(max_length=limits.MAX_RELAY_REPORT_RECORDS)


class RecordsAnswer(_Body):
    applied: int = Field(description="records applied (sessions homed on this relay)")
    ignored: int = Field(description="records about sessions not homed on this relay")
