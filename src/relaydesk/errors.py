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
    │   │   └── ForbiddenBySite       the site's policy forbids it (its ticket says so; 4012)
    │   ├── InvalidTransition         not possible in the session's current state
    │   └── SessionEnded              the session is over (close code 4006)
    ├── CaptureError                  this machine's screen cannot be captured (local)
    ├── InputError                    remote-control input cannot be injected here (local)
    ├── BrokerError                   the broker refused a request (carries an HTTP status)
    │   ├── AuthenticationFailed      wrong username or password, or a stale token (401)
    │   │   ├── OneTimeCodeNeeded     right password; the account needs its one-time code (401)
    │   │   └── AccountNeeded         the site admits to sessions only people with an account (401)
    │   ├── AdminOnly                 the request needs a site administrator's login (403)
    │   ├── PolicyRefused             the site policy forbids what was asked (400)
    │   ├── ResetRefused              a password reset with a wrong username or code (400)
    │   ├── ResetNotFound             no password reset request with that id (404)
    │   ├── ResetState                the reset request was decided already (409)
    │   ├── LastAdministrator         the site's last administrator cannot lose the role (409)
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
    │   ├── RelayNotRegistered        no relay is registered under that name (404)
    │   ├── RelayExists               that relay name or key is registered already (409)
    │   ├── RefreshRefused            a ticket refresh that does not prove its member (403)
    │   ├── NoRelayAvailable          relays are registered but none is live (503)
    │   ├── RelayReportRefused        a relay's report: unknown relay, bad signature, stale (401)
    │   ├── RelayReportReplayed       a relay's report with a counter not above the last (409)
    │   ├── RelayReportTooLarge       a relay's report above MAX_RELAY_REPORT_BYTES (413)
    │   ├── RelayReportInvalid        a relay's report that does not parse (422)
    │   └── DataDirError              the data directory, a key or a certificate is unusable
    └── ClientError                   the Python client cannot go on
        ├── PinningError              the server's certificate is not the trusted one
        ├── ApiError                  the broker refused a request (status, detail)
        │   └── OneTimeCodeRequired   the broker asks for the account's one-time code
        ├── ProxyRefused              the HTTP CONNECT proxy refused the tunnel
        ├── RelayClosed               the relay closed the connection (close code)
        └── RecordingError            a recording file cannot be read, verified or exported
            ├── RecordingMalformed    not a recording, or a part of it that does not parse
            └── RecordingTampered     a changed, removed, inserted or reordered byte (where)
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
    MOVED = 4011  # the session now lives on another relay: refresh the ticket, reconnect
    SITE_POLICY = 4012  # the site's policy forbids this member that action (ERROR only)


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


class HelloProofInvalid(TicketError):
    """The HELLO does not prove possession of the ticket's signing key: no proof, or one
    made for another challenge or another relay (docs/protocol.md §7.1)."""


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


class ForbiddenBySite(NotPermitted):
    """The site's administrator turned that off for everyone (desktop sharing, remote
    control): this member's ticket says so, and the relay refuses it. Nobody in the
    session can allow it; the connection stays open."""

    close_code = CloseCode.SITE_POLICY


class InvalidTransition(SessionError):
    """That action is not possible in the session's current state."""


class SessionEnded(SessionError):
    """The session has ended; nobody can join or act in it any more."""

    close_code = CloseCode.SESSION_ENDED


class WrongRelay(SessionError):
    """The ticket names another relay as the session's home and this relay cannot
    bridge to it (no NATS configured): refresh the ticket and connect there (§9)."""

    close_code = CloseCode.MOVED


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


class ProxyRefused(ClientError):
    """The HTTP CONNECT proxy (HTTPS_PROXY) refused the tunnel: wrong or missing proxy
    user and password (407), a port it does not allow, or no proxy answer at all."""


class RelayClosed(ClientError):
    """The relay closed the connection."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the relay closed the connection ({code}): {reason}")
        self.code = code
        self.reason = reason


class RecordingError(ClientError):
    """A recording file (docs/protocol.md §12) cannot be read, verified or exported.
    ``entry`` and ``offset`` say where: the entry's index (-1: the file header) and the
    byte offset at which that entry starts, when known."""

    def __init__(self, message: str, entry: int | None = None, offset: int | None = None) -> None:
        where = f"entry {entry} at byte {offset}: " if entry is not None else ""
        super().__init__(where + message)
        self.entry = entry
        self.offset = offset


class RecordingMalformed(RecordingError):
    """Not a relaydesk recording, a version this client cannot read, or an entry that
    does not parse within its limits."""


class RecordingTampered(RecordingError):
    """The recording's hash chain or its recorder's signature does not hold: bytes were
    changed, removed, inserted or reordered (or the file was cut short) where it says.
    Do not trust what it shows."""


class BrokerError(RelaydeskError):
    """The broker refused a request; ``status`` is the HTTP status it answers with."""

    status: int = 400


class AuthenticationFailed(BrokerError):
    """Wrong username or password, or a login token that has expired: log in again."""

    status = 401


class OneTimeCodeNeeded(AuthenticationFailed):
    """The password was right, and the account has two-step login: send the one-time
    code (from the authenticator app, or a recovery code) with it."""


class AccountNeeded(AuthenticationFailed):
    """The site admits to sessions only people with an account: log in first (the
    browser's sign-in at /host, or ``relaydesk login``), then join."""


class AdminOnly(BrokerError):
    """Only a site administrator's login may do that (``relaydesk admin user
    grant-admin NAME`` makes an account one)."""

    status = 403


class PolicyRefused(BrokerError):
    """The site's policy, set by its administrator, forbids what was asked (a session
    without a password, a password reset without an administrator's approval)."""


class ResetRefused(BrokerError):
    """No approved reset for that username matches that code, or the code has been used
    or has expired; with two-step login (when the site allows it), a wrong one-time code."""


class ResetNotFound(BrokerError):
    """No password reset request has that id."""

    status = 404


class ResetState(BrokerError):
    """The password reset request was approved or denied already, or has lapsed."""

    status = 409


class LastAdministrator(BrokerError):
    """The site's last administrator cannot lose the role through the API (the admin
    command on the server can grant and revoke it always)."""

    status = 409


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
    """The password breaks a password rule of the site (too short, contains the
    username, a common password, too easy to guess; or too long to hash). The message
    names the rule."""


class AccountExists(BrokerError):
    """An account with that username exists already."""

    status = 409


class AccountNotFound(BrokerError):
    """No account has that username."""

    status = 404


class RelayNotRegistered(BrokerError):
    """No relay is registered under that name (``relaydesk admin relay list``)."""

    status = 404


class RelayExists(BrokerError):
    """A relay is registered under that name, or with that key, already."""

    status = 409


class RefreshRefused(BrokerError):
    """A ticket refresh was refused: the ticket is not this broker's for this live
    session, its holder's signature does not verify, its timestamp is not current, or a
    host expelled the member or refused its entry (final)."""

    status = 403


class NoRelayAvailable(BrokerError):
    """Relays are registered but none has sent a heartbeat lately: no session can be
    placed. Try again shortly; the operator should check the relays."""

    status = 503


class RelayReportRefused(BrokerError):
    """A relay's signed report from an unregistered relay, with a signature that does
    not verify, or whose ``sent_at`` is too far from the broker's clock."""

    status = 401


class RelayReportReplayed(BrokerError):
    """A relay's signed report whose ``counter`` is not above the last one accepted."""

    status = 409


class RelayReportTooLarge(BrokerError):
    """A relay's signed report larger than MAX_RELAY_REPORT_BYTES."""

    status = 413


class RelayReportInvalid(BrokerError):
    """A relay's signed report that is not the JSON the endpoint takes, or has more than
    MAX_RELAY_REPORT_RECORDS records."""

    status = 422


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


class ConfigError(RelaydeskError):
    """A ``--config`` TOML file cannot be read, is not TOML, or names an unknown key."""


class BrokerLinkError(RelaydeskError):
    """A relay cannot talk to its broker: unreachable, wrong certificate fingerprint, or
    the broker refused the relay's signed request (unknown relay, bad signature, replay)."""
