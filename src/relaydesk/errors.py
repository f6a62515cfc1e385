"""Every error relaydesk raises on purpose.

One root, one base per layer; a parser never lets ``ValueError``, ``KeyError`` or
``struct.error`` escape. Errors caused by the peer carry the close code a connection is
closed with (docs/protocol.md §9)::

    RelaydeskError
    ├── ProtocolError                 the peer sent bytes that break the wire format
    │   ├── FrameError                bad header, version or length
    │   │   └── FrameTooLarge         a declared length above a limit (checked before buffering)
    │   └── MessageError              a body that does not decode to its message type
    │       └── TileError             a screen tile outside the picture or not decodable
    ├── CryptoError                   the end-to-end layer refused something
    │   ├── TicketError               a join ticket is not valid here
    │   │   ├── TicketSignatureInvalid
    │   │   ├── TicketExpired
    │   │   └── TicketWrongSession
    │   ├── CommitRejected            a key commit that must not be applied
    │   ├── NoEpochKey                no key for that epoch (never had it, or it expired)
    │   ├── DecryptionFailed          a changed bit somewhere, or the wrong key
    │   ├── SignatureInvalid          not signed by the member it claims to come from
    │   └── ReplayDetected            a sequence number already seen (or older)
    ├── SessionError                  the session's rules refused an action
    │   ├── NotPermitted              the member has no right to do that
    │   ├── InvalidTransition         not possible in the session's current state
    │   └── SessionEnded              the session is over (close code 4006)
    ├── CaptureError                  this machine's screen cannot be captured (local)
    ├── InputError                    remote-control input cannot be injected here (local)
    ├── BrokerError                   the broker refused a request (carries an HTTP status)
    │   ├── AuthenticationFailed      wrong username or password, or a stale token (401)
    │   │   └── OneTimeCodeNeeded     right password; the account needs its one-time code (401)
    │   ├── AccountDisabled           the organizer account was disabled (403)
    │   ├── ForeignOrigin             a cookie-authenticated request from another site (403)
    │   ├── JoinRefused               no session with that ID and password (403)
    │   ├── SessionLocked             a host locked the meeting: nobody new joins (403)
    │   ├── SessionNotFound           the organizer has no live session with that ID (404)
    │   ├── SessionIdTaken            a live session already has that ID (409)
    │   ├── SessionFull               no member id left to give in that session (409)
    │   ├── TwoPartyFull              a two-party session has had both its parties (409)
    │   ├── TwoStepLoginState         two-step login is not in the state asked for (409)
    │   ├── RateLimited               too many attempts; retry after some seconds (429)
    │   ├── WeakPassword              an account password too short or too long (400)
    │   ├── AccountExists             that username is taken (409)
    │   ├── AccountNotFound           no account with that username (404)
    │   └── DataDirError              the data directory, a key or a certificate is unusable
    └── ClientError                   the Python client cannot go on
        ├── PinningError              the server's certificate is not the trusted one
        ├── ApiError                  the broker refused a request (status, detail)
        │   └── OneTimeCodeRequired   the broker asks for the account's one-time code
        └── RelayClosed               the relay closed the connection (close code)
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Why a connection was closed; WebSocket close codes 4000-4999 (private use)."""

    NORMAL = 1000
    PROTOCOL_ERROR = 4000
    FRAME_TOO_LARGE = 4001
    BAD_MESSAGE = 4002
    BAD_TICKET = 4003
    NOT_PERMITTED = 4004
    EXPELLED = 4005
    SESSION_ENDED = 4006
    CRYPTO_ERROR = 4007
    RATE_LIMITED = 4008
    SLOW_CONSUMER = 4009
    REFUSED_ENTRY = 4010  # a host refused this member entry from the lobby (final)


class RelaydeskError(Exception):
    """Root of every error relaydesk raises on purpose."""

    close_code: CloseCode = CloseCode.PROTOCOL_ERROR


class ProtocolError(RelaydeskError):
    """The other side sent something that is not relaydesk protocol."""


class FrameError(ProtocolError):
    """A frame header was malformed: wrong version, unknown type or inconsistent length."""


class FrameTooLarge(FrameError):
    """A frame or field announced a size above the limit; nothing of it was buffered."""

    close_code = CloseCode.FRAME_TOO_LARGE


class MessageError(ProtocolError):
    """A message body did not decode to the message its frame type names."""

    close_code = CloseCode.BAD_MESSAGE


class CryptoError(RelaydeskError):
    """The end-to-end encryption layer refused a message, key or ticket."""

    close_code = CloseCode.CRYPTO_ERROR


class TicketError(CryptoError):
    """A join ticket cannot be accepted. Ask the server for a new one by joining again."""

    close_code = CloseCode.BAD_TICKET


class TicketSignatureInvalid(TicketError):
    """The ticket was not signed by this server's broker key (forged, altered or foreign)."""


class TicketExpired(TicketError):
    """The ticket is past its expiry time; join again to get a fresh one."""


class TicketWrongSession(TicketError):
    """The ticket was issued for a different session."""


class CommitRejected(CryptoError):
    """A key commit was refused: not from the key leader, badly signed, stale, or naming
    members whose keys differ from the ones this member was shown (someone tampered)."""


class NoEpochKey(CryptoError):
    """No content key for that epoch: the member was not given it (left, expelled, joined
    later) or it is older than the grace period."""


class DecryptionFailed(CryptoError):
    """The message did not decrypt: a bit was changed, or it belongs to another session,
    epoch, sender, channel or sequence number than its header claims."""


class SignatureInvalid(CryptoError):
    """The message is not signed by the member its header names as sender."""


class ReplayDetected(CryptoError):
    """A sequence number that was already received (or an older one) came again."""


class SessionError(RelaydeskError):
    """The session's rules refused an action; the connection stays open."""

    close_code = CloseCode.NOT_PERMITTED


class NotPermitted(SessionError):
    """That member has no right to do that (wrong role, or not the person concerned)."""


class InvalidTransition(SessionError):
    """That action is not possible in the session's current state."""


class SessionEnded(SessionError):
    """The session has ended; nobody can join or act in it any more."""

    close_code = CloseCode.SESSION_ENDED


class ClientError(RelaydeskError):
    """The Python client cannot go on; the message says why and what to do."""


class PinningError(ClientError):
    """The server's certificate is not the one trusted for it. Someone may be
    intercepting the connection; compare the fingerprint the server printed."""


class ApiError(ClientError):
    """The broker refused a request."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class OneTimeCodeRequired(ApiError):
    """The account has two-step login: ask for the one-time code (or a recovery code)
    and log in again with it."""


class RelayClosed(ClientError):
    """The relay closed the connection."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the relay closed the connection ({code}): {reason}")
        self.code = code
        self.reason = reason


class BrokerError(RelaydeskError):
    """The broker refused a request; ``status`` is the HTTP status it answers with."""

    status: int = 400


class AuthenticationFailed(BrokerError):
    """Wrong username or password, or a login token that has expired: log in again."""

    status = 401


class OneTimeCodeNeeded(AuthenticationFailed):
    """The password was right, and the account has two-step login: send the one-time
    code (from the authenticator app, or a recovery code) with it."""


class ForeignOrigin(BrokerError):
    """A cookie-authenticated request from a page of another site (cross-site request
    forgery, which SameSite=Strict already stops in current browsers)."""

    status = 403


class SessionLocked(BrokerError):
    """A host locked the meeting: nobody new can join until a host unlocks it."""

    status = 403


class TwoPartyFull(BrokerError):
    """A two-party support session has had both its parties: it admits nobody else."""

    status = 409


class TwoStepLoginState(BrokerError):
    """Two-step login is not in the state that request needs (on already, not begun)."""

    status = 409


class AccountDisabled(BrokerError):
    """This organizer account was disabled by the server's administrator."""

    status = 403


class JoinRefused(BrokerError):
    """No session with that ID and password. The same answer, in the same time, whether
    the ID or the password was wrong, so that guessing learns nothing."""

    status = 403


class SessionNotFound(BrokerError):
    """The organizer has no live session with that ID (never had, or it has ended)."""

    status = 404


class SessionIdTaken(BrokerError):
    """A live session already uses that ID: choose another, or let the server pick one."""

    status = 409


class SessionFull(BrokerError):
    """The session has handed out every member id it can; start a new session."""

    status = 409


class RateLimited(BrokerError):
    """Too many attempts from this address, for this name or for this session ID."""

    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WeakPassword(BrokerError):
    """The password is too short for an organizer account (or too long to hash)."""


class AccountExists(BrokerError):
    """An account with that username exists already."""

    status = 409


class AccountNotFound(BrokerError):
    """No account has that username."""

    status = 404


class DataDirError(BrokerError):
    """The server's data directory, broker key or TLS certificate cannot be used."""

    status = 500


class TileError(MessageError):
    """A screen update cannot be applied: a tile lies outside the picture, its pixels are
    not the size it announces or do not decode, or it came before any full picture. The
    viewer's picture is left exactly as it was (docs/screen.md)."""


class CaptureError(RelaydeskError):
    """This machine's screen cannot be captured: the X display could not be opened (is
    ``DISPLAY`` set, is the X server running, may you connect to it?) or it stopped
    answering. Nothing was sent to anyone."""


class InputError(RelaydeskError):
    """Remote-control input cannot be injected on this machine's X display: the display
    could not be opened, it lacks the XTEST extension (or the Ctrl+F12 revoke hotkey is
    taken by another program), or one input event cannot be carried out as sent (a
    position outside the screen, a character that no key can type). An event refused as
    unfit is refused before any of it is injected."""
