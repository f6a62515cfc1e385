"""Request and answer bodies of the broker's HTTPS API (REST; not wire messages).

Every field has a size limit (``relaydesk.limits``), checked by pydantic before the
broker does any work. Binary values travel as unpadded base64url; session uids as hex.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relaydesk import limits
from relaydesk.broker.service import (
    PUBLIC_KEY_BYTES,
    normalize_display_name,
    normalize_session_id,
)
from relaydesk.errors import BrokerError

KEY_TEXT_CHARS = 44  # base64 of 32 bytes, with its one padding character

Password = Annotated[str, Field(min_length=1, max_length=limits.MAX_PASSWORD_CHARS)]
Base64Key = Annotated[
    str,
    Field(
        min_length=43,
        max_length=KEY_TEXT_CHARS,
        description="a 32-byte public key, base64url (padding optional)",
        examples=["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"],
    ),
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError if it is not that."""
    try:
        # validate: refuse characters outside the alphabet instead of skipping them
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=limits.MAX_USERNAME_CHARS)
    password: Password


class LoginAnswer(_Body):
    token: str = Field(description="send as `Authorization: Bearer TOKEN`")
    expires_at: datetime


class CreateSessionRequest(_Body):
    session_id: str | None = Field(
        default=None,
        max_length=32,
        description="9 digits, not starting with 0 (spaces and dashes are ignored); "
        "leave out for a random one",
        examples=["123 456 789"],
    )
    password: Password | None = Field(
        default=None, description="people joining must give it; kept only as a hash"
    )

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_session_id(value)
        if normalized is None:
            raise ValueError("a session ID has 9 digits and does not start with 0")
        return normalized


class CreatedSessionAnswer(_Body):
    session_id: str = Field(description="9 digits")
    session_uid: str = Field(description="16 bytes, hex: names the session in tickets")
    invite_url: str


class JoinRequest(_Body):
    display_name: str = Field(
        min_length=1,
        max_length=4 * limits.MAX_DISPLAY_NAME_CHARS,  # before stripping spaces
        description=f"1 to {limits.MAX_DISPLAY_NAME_CHARS} characters once stripped",
    )
    password: Password | None = None
    x25519: Base64Key = Field(description="the member's X25519 (agreement) public key")
    ed25519: Base64Key = Field(description="the member's Ed25519 (signing) public key")

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        try:
            return normalize_display_name(value)
        except BrokerError as error:
            raise ValueError(str(error)) from None

    @field_validator("x25519", "ed25519")
    @classmethod
    def _key(cls, value: str) -> str:
        if len(from_b64url(value)) != PUBLIC_KEY_BYTES:
            raise ValueError("a public key has 32 bytes")
        return value


class JoinAnswer(_Body):
    ticket: str = Field(description="the broker-signed ticket, base64url (protocol §7)")
    member_id: int
    role: str = Field(description="host or participant")
    session_uid: str = Field(description="hex")
    relay_url: str = Field(description="where to connect with the ticket")
    broker_public_key: str = Field(description="Ed25519, base64url: checks every ticket")
    expires_at: datetime = Field(description="the ticket must reach the relay before this")


class ServerInfo(_Body):
    version: str
    broker_public_key: str = Field(description="Ed25519, base64url")


class RecordAnswer(_Body):
    session_id: str
    session_uid: str = Field(description="hex")
    kind: str = Field(
        description="session_start, session_end, join, leave, consent_asked, "
        "consent_answered, grant, revoke or refused"
    )
    member_id: int | None
    display_name: str | None
    role: str | None
    at: datetime
    bytes_in: int = Field(description="bytes the member sent to the relay")
    bytes_out: int = Field(description="bytes the relay sent to the member")
    detail: str | None = Field(
        description="for consent, grant, revoke and refused: what, as key=value pairs"
    )


class ErrorAnswer(_Body):
    detail: str
