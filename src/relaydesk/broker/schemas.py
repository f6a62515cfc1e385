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
AGREEMENT_KEY_BYTES = 1216  # ML-KEM-768 + X25519 public key (protocol §6.2)
AGREEMENT_TEXT_CHARS = 1624  # base64 of 1216 bytes, with its padding
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
Base64AgreementKey = Annotated[
    str,
    Field(
        min_length=AGREEMENT_TEXT_CHARS - 2,
        max_length=AGREEMENT_TEXT_CHARS,
        description="a 1216-byte hybrid public key (ML-KEM-768 || X25519), base64url "
        "(padding optional)",
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
    is_admin: bool = Field(default=False, description="a site administrator (/api/admin/...)")


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
    agreement: Base64AgreementKey = Field(
        description="the member's agreement public key: ML-KEM-768 || X25519 (protocol §6.2)"
    )
    ed25519: Base64Key = Field(description="the member's Ed25519 (signing) public key")

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        try:
            return normalize_display_name(value)
        except BrokerError as error:
            raise ValueError(str(error)) from None

    @field_validator("ed25519")
    @classmethod
    def _key(cls, value: str) -> str:
        if len(from_b64url(value)) != PUBLIC_KEY_BYTES:
            raise ValueError("a public key has 32 bytes")
        return value

    @field_validator("agreement")
    @classmethod
    def _agreement(cls, value: str) -> str:
        if len(from_b64url(value)) != AGREEMENT_KEY_BYTES:
            raise ValueError(f"an agreement key has {AGREEMENT_KEY_BYTES} bytes")
        return value


class RelayAnswer(_Body):
    name: str = Field(description="the relay's name; a ticket's `relay` names the home")
    wss_url: str = Field(description="wss://HOST[:PORT]/relay")
    tcp_address: str | None = Field(description="host:port of its direct TLS port, if any")
    fingerprint: str = Field(description="hex SHA-256 of its TLS certificate (DER)")


class JoinAnswer(_Body):
    ticket: str = Field(description="the broker-signed ticket, base64url (protocol §7)")
    member_id: int
    role: str = Field(description="host or participant")
    session_uid: str = Field(description="hex")
    relay_url: str = Field(description="where to connect with the ticket (the home relay)")
    relays: list[RelayAnswer] = Field(
        default_factory=list, description="relays to connect to: the home first"
    )
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
        "consent_answered, grant, revoke, refused, lobby, admit, expel, role, lock, "
        "permissions or recording"
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
        "admit, expel, role, lock, recording): what, as key=value pairs"
    )
    organizer: str | None = Field(
        default=None, description="the username of the session's organizer"
    )


class ErrorAnswer(_Body):
    detail: str


# Ticket refresh (docs/protocol.md §7.3) ------------------------------------------------

MAX_TICKET_TEXT_CHARS = (limits.MAX_TICKET_BYTES * 4 + 2) // 3  # base64url, no padding
SIGNATURE_TEXT_CHARS = 86  # base64url of 64 bytes, no padding


class RefreshRequest(_Body):
    ticket: str = Field(
        min_length=1,
        max_length=MAX_TICKET_TEXT_CHARS,
        description="the ticket the member holds (expired is fine), base64url",
    )
    timestamp: int = Field(ge=0, le=2**63 - 1, description="Unix seconds, now")
    signature: str = Field(
        min_length=SIGNATURE_TEXT_CHARS,
        max_length=SIGNATURE_TEXT_CHARS + 2,
        description='Ed25519 by the ticket\'s own ed25519 key over "relaydesk/v1 refresh\\n" '
        "|| ticket || timestamp (u64 big-endian), base64url",
    )
    failed_relay: str | None = Field(
        default=None,
        max_length=limits.MAX_RELAY_NAME_CHARS,
        description="the relay that dropped this member, if one did",
    )

    @field_validator("ticket", "signature")
    @classmethod
    def _base64url(cls, value: str) -> str:
        from_b64url(value)
        return value


# The site policy, administrators, password resets (docs/operators.md) -----------------

MinPasswordChars = Annotated[int, Field(ge=0, le=limits.MAX_POLICY_PASSWORD_CHARS)]


class PolicyAnswer(_Body):
    """The site policy (docs/operators.md, "Site policy"): rules organizers cannot
    override."""

    require_session_password: bool = Field(description="every session needs a password")
    min_account_password_chars: int = Field(
        description=f"organizer passwords have at least this many characters (at least "
        f"{limits.MIN_ACCOUNT_PASSWORD_CHARS})"
    )
    min_session_password_chars: int = Field(
        description="session passwords have at least this many characters (0: any)"
    )
    strong_passwords: bool = Field(
        description="organizer and session passwords must not contain the username, be a "
        "common password or be easy to guess (zxcvbn score 3 of 4 or more)"
    )
    all_unlisted: bool = Field(description="no session is listed on the join page")
    require_attendee_email: bool = Field(description="joining needs an e-mail address")
    restricted_access: bool = Field(description="joining needs an account's login")
    disable_sharing: bool = Field(description="nobody presents a screen (tickets: NO_SHARING)")
    disable_control: bool = Field(description="nobody takes remote control (NO_CONTROL)")
    approve_password_resets: bool = Field(
        description="every password reset needs an administrator's approval"
    )
    updated_at: datetime | None = Field(
        default=None, description="when an administrator last changed it (admin API only)"
    )
    updated_by: str | None = Field(default=None, description="which administrator (admin API only)")


class PolicyChange(_Body):
    """Rules to change; those left out keep their value."""

    require_session_password: bool | None = None
    min_account_password_chars: MinPasswordChars | None = Field(
        default=None,
        description=f"{limits.MIN_ACCOUNT_PASSWORD_CHARS} to {limits.MAX_POLICY_PASSWORD_CHARS}",
    )
    min_session_password_chars: MinPasswordChars | None = Field(
        default=None, description=f"0 to {limits.MAX_POLICY_PASSWORD_CHARS}"
    )
    strong_passwords: bool | None = None
    all_unlisted: bool | None = None
    require_attendee_email: bool | None = None
    restricted_access: bool | None = None
    disable_sharing: bool | None = None
    disable_control: bool | None = None
    approve_password_resets: bool | None = None


Username = Annotated[str, Field(min_length=1, max_length=limits.MAX_USERNAME_CHARS)]


class AccountAnswer(_Body):
    username: str
    disabled: bool
    is_admin: bool = Field(description="a site administrator")
    totp_enabled: bool = Field(description="two-step login is on")
    created_at: datetime


class AdminRoleRequest(_Body):
    admin: bool = Field(description="true: make the account an administrator; false: not")


class PasswordResetRequest(_Body):
    username: Username


class PasswordResetAsked(_Body):
    detail: str = Field(description="the same sentence whether or not the account exists")


class PasswordResetCompletion(_Body):
    username: Username
    code: str = Field(
        min_length=1,
        max_length=64,
        description="the reset code an administrator gave (XXXX-XXXX-XXXX-XXXX-XXXX-XXXX), "
        "or, where the site allows it, a one-time code or recovery code of the account's "
        "two-step login",
    )
    new_password: Password


class PasswordResetAnswer(_Body):
    id: int
    username: str
    requested_at: datetime
    requested_from: str = Field(description="the client address the request came from")
    state: str = Field(description="pending, approved, denied, used or expired")
    decided_at: datetime | None
    decided_by: str | None = Field(description="the administrator who decided")
    code_expires_at: datetime | None
    used_at: datetime | None


class ApprovedResetAnswer(_Body):
    request: PasswordResetAnswer
    code: str = Field(
        description="the one-time reset code: shown this once (only its hash is kept); "
        "pass it on to the organizer out of band"
    )


class MemberSummaryAnswer(_Body):
    session_id: str
    session_uid: str = Field(description="hex")
    organizer: str | None
    member_id: int
    display_name: str | None
    email: str | None
    role: str | None
    joined_at: datetime = Field(description="first admitted by the relay")
    left_at: datetime | None = Field(description="last left; null while still in")
    duration_seconds: float | None = Field(description="left_at - joined_at")
    bytes_in: int = Field(description="bytes the member sent to the relay, every link")
    bytes_out: int = Field(description="bytes the relay sent to the member, every link")
