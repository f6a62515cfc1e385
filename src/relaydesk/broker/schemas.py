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
from relaydesk.broker.models import MAX_TITLE_CHARS
from relaydesk.broker.service import (
    PUBLIC_KEY_BYTES,
    normalize_display_name,
    normalize_session_id,
    normalize_title,
)
from relaydesk.errors import BrokerError

KEY_TEXT_CHARS = 44  # base64 of 32 bytes, with its one padding character
MAX_ONE_TIME_CODE_CHARS = 32  # 6 digits, or a recovery code "abcd-efgh-jkmn", with spaces

Password = Annotated[str, Field(min_length=1, max_length=limits.MAX_PASSWORD_CHARS)]
OneTimeCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ONE_TIME_CODE_CHARS,
        description="the 6 digits the authenticator app shows, or one of the recovery codes",
        examples=["123456"],
    ),
]
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
    one_time_code: OneTimeCode | None = Field(
        default=None,
        description="needed when the account has two-step login: the authenticator app's "
        "current code, or one of the recovery codes (each works once)",
    )


class LoginAnswer(_Body):
    token: str = Field(description="send as `Authorization: Bearer TOKEN`")
    expires_at: datetime


class OrganizerAnswer(_Body):
    username: str
    expires_at: datetime = Field(description="when this login ends")
    totp_enabled: bool = Field(description="two-step login (a one-time code) is on")


class OneTimeCodeRequest(_Body):
    code: OneTimeCode


class TotpEnrolmentAnswer(_Body):
    secret: str = Field(description="the TOTP secret, base32, to type into the app by hand")
    otpauth_uri: str = Field(description="the otpauth:// URI that the QR code holds")
    qr_svg: str = Field(description="the QR code, an SVG document (no script, no style)")


class RecoveryCodesAnswer(_Body):
    recovery_codes: list[str] = Field(
        description="10 codes, each good for one login in place of a one-time code; "
        "shown this once (only their hashes are kept)"
    )


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
    title: str | None = Field(
        default=None,
        max_length=4 * MAX_TITLE_CHARS,  # before stripping spaces
        description=f"shown in the listing and to whoever joins; 1 to {MAX_TITLE_CHARS} "
        "characters once stripped (empty: none)",
        examples=["Weekly support call"],
    )
    listed: bool = Field(
        default=False, description="shown by GET /api/sessions/listed while it is live"
    )
    lobby: bool = Field(
        default=False, description="participants wait in the lobby until a host admits them"
    )
    two_party: bool = Field(
        default=False,
        description="a support session: two members at most; when either leaves it ends",
    )
    require_email: bool = Field(
        default=False, description="people joining must give an e-mail address"
    )
    join_before_host: bool = Field(
        default=True,
        description="participants may be in (chat only) before a host; if false, they "
        "wait until a host arrives",
    )

    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        try:
            return normalize_title(value)
        except BrokerError as error:
            raise ValueError(str(error)) from None

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_session_id(value)
        if normalized is None:
            raise ValueError("a session ID has 9 digits and does not start with 0")
        return normalized


class SessionSettingsAnswer(_Body):
    title: str | None
    listed: bool
    lobby: bool
    two_party: bool
    require_email: bool
    join_before_host: bool


class CreatedSessionAnswer(_Body):
    session_id: str = Field(description="9 digits")
    session_uid: str = Field(description="16 bytes, hex: names the session in tickets")
    invite_url: str
    settings: SessionSettingsAnswer


class ListedSessionAnswer(_Body):
    session_id: str = Field(description="9 digits")
    title: str | None
    host: str = Field(description="the organizer's username")


class JoinRequest(_Body):
    display_name: str = Field(
        min_length=1,
        max_length=4 * limits.MAX_DISPLAY_NAME_CHARS,  # before stripping spaces
        description=f"1 to {limits.MAX_DISPLAY_NAME_CHARS} characters once stripped",
    )
    password: Password | None = None
    email: str | None = Field(
        default=None,
        max_length=limits.MAX_EMAIL_CHARS,
        description="the member's e-mail address (needed when the session asks for one); "
        "it goes into the ticket and the event records",
        examples=["bob@example.org"],
    )
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
    waits_in_lobby: bool = Field(
        description="the session has a lobby: the member waits there until a host admits them"
    )
    title: str | None = Field(default=None, description="the session's title, if it has one")


class ServerInfo(_Body):
    version: str
    broker_public_key: str = Field(description="Ed25519, base64url")


class RecordAnswer(_Body):
    session_id: str
    session_uid: str = Field(description="hex")
    kind: str = Field(
        description="session_start, session_end, join, leave, consent_asked, "
        "consent_answered, grant, revoke, refused, lobby, admit, expel, role, lock or "
        "permissions"
    )
    member_id: int | None
    display_name: str | None
    email: str | None = Field(description="the e-mail address the member gave, if any")
    role: str | None
    at: datetime
    bytes_in: int = Field(description="bytes the member sent to the relay")
    bytes_out: int = Field(description="bytes the relay sent to the member")
    detail: str | None = Field(
        description="for consent, grant, revoke, refused and the meeting controls (lobby, "
        "admit, expel, role, lock): what, as key=value pairs"
    )


class ErrorAnswer(_Body):
    detail: str
