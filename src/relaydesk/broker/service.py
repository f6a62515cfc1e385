"""``Broker``: the admission rules — login, create, join, end — over a ``Store``.

Join admission follows SECURITY.md ("Outsider guessing"): a wrong session ID and a wrong
password give the same ``JoinRefused`` after the same work (one argon2id check, against a
decoy hash when there is no session); joins are rate-limited per client address and per
session ID; a session ID with too many failures is locked for a while. What is counted
never depends on whether the session exists, so no limit tells it either. The session's
own rules (an e-mail address asked, a locked meeting, a two-party session that has both
parties) are checked only after the password, so they tell an outsider nothing.

Organizers log in with their password and, when they turned two-step login on, a TOTP
code or a recovery code (``broker.totp``); a wrong code counts like a wrong password.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from msgspec import structs

from relaydesk import limits
from relaydesk.broker import totp
from relaydesk.broker.models import MAX_TITLE_CHARS
from relaydesk.broker.passwords import Passwords
from relaydesk.broker.policy import SitePolicy
from relaydesk.broker.ratelimit import FailureLockout, TokenBucket, settle
from relaydesk.broker.records import EventRecord, MemberSummary, RecordFilter, member_summaries
from relaydesk.broker.relays import EMBEDDED_RELAY, Home, LocalRelay, RelayRegistry
from relaydesk.broker.reports import RelayReports
from relaydesk.broker.resets import PasswordResets
from relaydesk.broker.store import (
    AccountInfo,
    Clock,
    ListedSession,
    SessionInfo,
    SessionSettings,
    Store,
)
from relaydesk.errors import (
    AccountDisabled,
    AccountNeeded,
    AdminOnly,
    AuthenticationFailed,
    BrokerError,
    JoinRefused,
    OneTimeCodeNeeded,
    PolicyRefused,
    RateLimited,
    RefreshRefused,
    SessionFull,
    SessionIdTaken,
    SessionLocked,
    SessionNotFound,
    TicketError,
    TwoPartyFull,
    TwoStepLoginState,
)
from relaydesk.protocol.frames import MAX_MEMBER_ID
from relaydesk.protocol.keys import check_agreement_key
from relaydesk.protocol.messages import Role
from relaydesk.protocol.tickets import (
    SITE_RULES,
    Ticket,
    TicketRule,
    refresh_message,
    sign_ticket,
    verify_ticket,
)
from relaydesk.relay.records import RecordKind, RecordSink

log = logging.getLogger(__name__)

SESSION_ID_DIGITS = 9
SESSION_UID_BYTES = 16
PUBLIC_KEY_BYTES = 32
RANDOM_ID_ATTEMPTS = 20  # with at most thousands of live IDs among 9e8, one try is enough
JOIN_REFUSED = "No session with that ID and password."
WRONG_LOGIN = "Wrong username or password."
ONE_TIME_CODE_NEEDED = "This account needs its one-time code."
WRONG_ONE_TIME_CODE = "Wrong or already used one-time code."
EMAIL_REQUIRED = "This session asks for your e-mail address."
EMAIL_INVALID = "That does not look like an e-mail address."
SESSION_LOCKED = "This meeting is locked: nobody new can join."
TWO_PARTY_FULL = "This support session already has both parties."
REFRESH_REFUSED = "This ticket cannot be refreshed: join the session again."
REMOVED = "A host removed you from this session; you cannot come back."
STALE_REFRESH = "The refresh's timestamp is too far from the server's clock; check yours."
ACCOUNT_NEEDED = (
    "This server admits only people with an account: sign in first, then join "
    "(site policy: restricted_access)."
)
NO_SESSION_PASSWORD = (
    "This session has no password, and this server now requires one: ask the host to "
    "start a new session (site policy: require_session_password)."
)
ADMIN_ONLY = "This needs a site administrator's login."
TWO_PARTIES = 2
MAX_LISTED_SESSIONS = 200  # GET /api/sessions/listed shows at most this many (oldest first)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where clients reach this server: ``public_url`` is ``https://HOST[:PORT]``, as
    users see it (invite URLs are built on it, the relay is ``wss://HOST[:PORT]/relay``)."""

    public_url: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if (
            parts.scheme != "https"
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise BrokerError(
                f"the public URL must be https://HOST[:PORT], not {self.public_url!r}"
            )
        object.__setattr__(self, "public_url", f"https://{parts.netloc}")

    @property
    def relay_url(self) -> str:
        return urlunsplit(("wss", urlsplit(self.public_url).netloc, "/relay", "", ""))

    def invite_url(self, session_id: str) -> str:
        return f"{self.public_url}/j/{session_id}"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # the bearer token; only its SHA-256 is stored
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OrganizerLogin:
    """Whose a token is, and until when it works."""

    account: AccountInfo
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A pending TOTP secret, for the organizer's authenticator app."""

    secret: str  # base32, to type in by hand
    otpauth_uri: str
    qr_svg: str  # the URI as a QR code, an SVG document


@dataclass(frozen=True, slots=True)
class CreatedSession:
    session_id: str
    session_uid: bytes
    invite_url: str
    settings: SessionSettings = field(default_factory=SessionSettings)


@dataclass(frozen=True, slots=True)
class Admission:
    """What a joining member gets: a signed ticket and where to take it."""

    ticket: bytes  # protocol.tickets.sign_ticket(...)
    member_id: int
    role: Role
    session_uid: bytes
    relay_url: str
    relays: tuple[LocalRelay, ...]  # home first (protocol §7)
    broker_public_key: bytes  # raw Ed25519, 32 bytes
    expires_at: datetime
    email: str  # as in the ticket ("" when none was given)
    rules: TicketRule
    title: str | None = None  # the session's title, for the joiner's window

    @property
    def waits_in_lobby(self) -> bool:
        """The member waits for a host to admit them (the session has a lobby)."""
        return TicketRule.WAIT_IN_LOBBY in self.rules


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_session_id(text: str) -> str | None:
    """``"123 456 789"`` or ``"123-456-789"`` → ``"123456789"``; None if not a session ID."""
    digits = text.replace(" ", "").replace("-", "")
    valid = len(digits) == SESSION_ID_DIGITS and digits.isascii() and digits.isdigit()
    return digits if valid and digits[0] != "0" else None


def normalize_display_name(name: str) -> str:
    """The name stripped; BrokerError unless 1..64 characters without control characters
    (a name is shown in terminals, rosters and CSV exports)."""
    name = name.strip()
    if not 1 <= len(name) <= limits.MAX_DISPLAY_NAME_CHARS:
        raise BrokerError(
            f"the display name must have 1 to {limits.MAX_DISPLAY_NAME_CHARS} characters"
        )
    if _has_control_characters(name):
        raise BrokerError("the display name must not contain control characters")
    return name


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def normalize_title(title: str | None) -> str | None:
    """A session's title stripped (None when empty); BrokerError unless at most 100
    characters without control characters."""
    if title is None or not title.strip():
        return None
    title = title.strip()
    if len(title) > MAX_TITLE_CHARS:
        raise BrokerError(f"a title has at most {MAX_TITLE_CHARS} characters")
    if _has_control_characters(title):
        raise BrokerError("a title must not contain control characters")
    return title


def normalize_email(text: str) -> str | None:
    """A plausible e-mail address, stripped and with its domain in lowercase; None if
    it is not one: one ``@`` with something before it, a domain of at least two
    dot-separated labels of letters, digits and hyphens, no space or control character,
    at most 254 characters. (Whether the address exists is not the broker's to know.)"""
    address = text.strip()
    if not address or len(address) > limits.MAX_EMAIL_CHARS or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    labels = domain.split(".")
    if (
        not local
        or len(labels) < 2
        or any(not label or label.startswith("-") or label.endswith("-") for label in labels)
        or not all(char.isalnum() or char in "-." for char in domain)
        or any(char.isspace() for char in local)
        or _has_control_characters(local)
    ):
        return None
    return f"{local}@{domain.lower()}"


def random_session_id() -> str:
    return str(10 ** (SESSION_ID_DIGITS - 1) + secrets.randbelow(9 * 10 ** (SESSION_ID_DIGITS - 1)))


class Broker:
    """The broker's rules. Thread-safe: FastAPI calls it from its worker threads.

    ``on_session_ended`` is called with the session uid once a session has been ended
    here (the relay registers it to close live connections). It runs in the thread that
    ended the session: an asyncio relay hands it to its loop (``call_soon_threadsafe``).
    """

    def __init__(
        self,
        store: Store,
        signing_key: Ed25519PrivateKey,
        settings: BrokerSettings,
        *,
        passwords: Passwords | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        # every session lives on this one relay (the embedded server's built-in one)
        self.local_relay = LocalRelay(EMBEDDED_RELAY, settings.relay_url)
        self.passwords = passwords or Passwords()
        self.passwords.decoy_hash()
        self.on_session_ended: Callable[[bytes], None] | None = None
        self._signing_key = signing_key
        self.public_key = signing_key.public_key().public_bytes_raw()
        # Registered relays (none: every session lives on local_relay) and their reports.
        self.relays = RelayRegistry(store)
        self.reports = RelayReports(self.relays, self.record_sink, store.clock)
        # In the database: every broker replica on it spends the same budgets.
        engine = store.engine
        self.login_per_address = TokenBucket(
            engine,
            "login_per_address",
            limits.LOGIN_PER_ADDRESS_BURST,
            limits.LOGIN_PER_ADDRESS_REFILL_SECONDS,
        )
        self.login_failures_per_username = TokenBucket(
            engine,
            "login_failures_per_username",
            limits.LOGIN_FAILURES_PER_USERNAME_BURST,
            limits.LOGIN_FAILURES_PER_USERNAME_REFILL_SECONDS,
        )
        self.join_per_address = TokenBucket(
            engine,
            "join_per_address",
            limits.JOIN_PER_ADDRESS_BURST,
            limits.JOIN_PER_ADDRESS_REFILL_SECONDS,
        )
        self.join_per_session = TokenBucket(
            engine,
            "join_per_session",
            limits.JOIN_PER_SESSION_BURST,
            limits.JOIN_PER_SESSION_REFILL_SECONDS,
        )
        self.admitted_per_address = TokenBucket(
            engine,
            "admitted_per_address",
            limits.ADMITTED_PER_ADDRESS_BURST,
            limits.ADMITTED_PER_ADDRESS_REFILL_SECONDS,
        )
        self.admitted_per_session = TokenBucket(
            engine,
            "admitted_per_session",
            limits.ADMITTED_PER_SESSION_BURST,
            limits.ADMITTED_PER_SESSION_REFILL_SECONDS,
        )
        self.refresh_per_member = TokenBucket(
            engine,
            "refresh_per_member",
            limits.REFRESH_PER_MEMBER_BURST,
            limits.REFRESH_PER_MEMBER_REFILL_SECONDS,
        )
        self.join_lockout = FailureLockout(
            engine,
            "join_lockout",
            limits.JOIN_FAILURES_BEFORE_LOCK,
            limits.JOIN_FAILURE_WINDOW_SECONDS,
            limits.JOIN_LOCK_SECONDS,
        )
        self.resets = PasswordResets(store, self.passwords, engine, self._second_factor)

    @property
    def clock(self) -> Clock:
        """The store's clock: one clock for expiries, limits and records."""
        return self.store.clock

    @property
    def record_sink(self) -> RecordSink:
        """Where the embedded relay reports join, leave, start and end."""
        return self.store

    # Organizers -----------------------------------------------------------------------

    def login(
        self, username: str, password: str, address: str, one_time_code: str | None = None
    ) -> IssuedToken:
        """A new login token. An account with two-step login also needs
        ``one_time_code``: without it OneTimeCodeNeeded (the password was right); a
        wrong, replayed or used one counts as a failed login."""
        now = self.clock()
        wait = self.login_per_address.take(address, now)
        if wait:
            log.info("login throttled for address %s", address)
            raise RateLimited("Too many login attempts from this address; wait a little.", wait)
        name_key = username.casefold()
        wait = self.login_failures_per_username.wait(name_key, now)
        if wait:
            log.info("login throttled for a username, from %s", address)
            raise RateLimited("Too many failed logins with this username; wait a little.", wait)
        found = self.store.account(username)
        password_hash = found[1] if found is not None else None
        if found is None or not self.passwords.verify(password_hash, password):
            self.login_failures_per_username.spend(name_key, now)
            log.info("failed login from %s", address)
            raise AuthenticationFailed(WRONG_LOGIN)
        account, stored_hash = found
        if account.disabled:
            raise AccountDisabled("This account is disabled; ask the server's administrator.")
        if account.totp_enabled:
            code = (one_time_code or "").strip()
            if not code:
                raise OneTimeCodeNeeded(ONE_TIME_CODE_NEEDED)
            if not self._second_factor(account, code, now):
                self.login_failures_per_username.spend(name_key, now)
                log.info("failed one-time code for %s from %s", account.username, address)
                raise AuthenticationFailed(WRONG_ONE_TIME_CODE)
        if self.passwords.needs_rehash(stored_hash):
            self.store.set_password_hash(account.id, self.passwords.hash(password))
        token = secrets.token_urlsafe(limits.ORGANIZER_TOKEN_BYTES)
        expires_at = datetime.fromtimestamp(now + limits.ORGANIZER_TOKEN_LIFETIME_SECONDS, UTC)
        self.store.add_token(token_hash(token), account.id, expires_at)
        log.info("organizer %s logged in from %s", account.username, address)
        return IssuedToken(token, expires_at)

    def _second_factor(self, account: AccountInfo, code: str, now: float) -> bool:
        """A TOTP code newer than the last one accepted, or an unused recovery code;
        either is spent by being accepted."""
        state = self.store.totp_state(account.id)
        if state.secret is None:
            return False
        if totp.is_totp_code(code):
            step = totp.matching_step(state.secret, code, now, after=state.last_step)
            return step is not None and self.store.accept_totp_step(account.id, step)
        hashed = totp.recovery_code_hash(code)
        if hashed is None or not self.store.use_recovery_code(account.id, hashed):
            return False
        log.info("organizer %s used a recovery code", account.username)
        return True

    def authenticate(self, token: str) -> AccountInfo:
        """The organizer a bearer token (or login cookie) belongs to."""
        return self.organizer_login(token).account

    def administrator(self, token: str) -> AccountInfo:
        """The site administrator a token belongs to; AdminOnly for an organizer."""
        account = self.authenticate(token)
        if not account.is_admin:
            raise AdminOnly(ADMIN_ONLY)
        return account

    def policy(self) -> SitePolicy:
        """The site policy as it is now in the shared database."""
        return self.store.policy()

    def set_policy(self, admin: AccountInfo, changes: dict[str, object]) -> SitePolicy:
        """Change the site policy's rules named in ``changes`` (the others stay)."""
        if not admin.is_admin:
            raise AdminOnly(ADMIN_ONLY)
        policy = self.store.change_policy(changes, admin.username)
        what = ", ".join(f"{name}={value}" for name, value in sorted(changes.items()))
        log.info("administrator %s changed the site policy: %s", admin.username, what)
        return policy

    def organizer_login(self, token: str) -> OrganizerLogin:
        """The organizer a token belongs to, and when that login expires."""
        if not token:
            raise AuthenticationFailed("Log in first: this needs an organizer's token.")
        found = self.store.token_login(token_hash(token))
        if found is None:
            raise AuthenticationFailed("Your login has expired or is not valid; log in again.")
        account, expires_at = found
        if account.disabled:
            raise AccountDisabled("This account is disabled; ask the server's administrator.")
        return OrganizerLogin(account, expires_at)

    def logout(self, token: str) -> None:
        """The token stops working at once (nothing happens for an unknown one)."""
        if token and self.store.delete_token(token_hash(token)):
            log.info("an organizer logged out")

    # Two-step login -------------------------------------------------------------------

    def _code_attempt(self, account: AccountInfo) -> float:
        """Checks the per-username failure limit before a one-time code is tried."""
        now = self.clock()
        wait = self.login_failures_per_username.wait(account.username.casefold(), now)
        if wait:
            raise RateLimited("Too many wrong one-time codes; wait a little.", wait)
        return now

    def _code_failed(self, account: AccountInfo, now: float) -> None:
        self.login_failures_per_username.spend(account.username.casefold(), now)
        log.info("wrong one-time code for %s", account.username)

    def start_totp(self, account: AccountInfo) -> TotpEnrolment:
        """A new pending TOTP secret; two-step login is on once its first code is
        confirmed (``confirm_totp``)."""
        if account.totp_enabled:
            raise TwoStepLoginState("Two-step login is on already; turn it off first.")
        secret = totp.new_secret()
        self.store.set_pending_totp(account.id, secret)
        host = urlsplit(self.settings.public_url).hostname or "server"
        uri = totp.provisioning_uri(secret, account.username, f"relaydesk {host}")
        log.info("organizer %s began turning on two-step login", account.username)
        return TotpEnrolment(secret, uri, totp.qr_svg(uri))

    def confirm_totp(self, account: AccountInfo, code: str) -> list[str]:
        """Turn two-step login on with the pending secret's current code; the new
        recovery codes (shown this once, kept only as hashes)."""
        now = self._code_attempt(account)
        state = self.store.totp_state(account.id)
        if account.totp_enabled or state.pending_secret is None:
            raise TwoStepLoginState("Begin with POST /api/me/totp: no secret waits for its code.")
        step = totp.matching_step(state.pending_secret, code.strip(), now)
        if step is None:
            self._code_failed(account, now)
            raise BrokerError(WRONG_ONE_TIME_CODE + " Check the clock of your phone.")
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_code_hash(recovery) for recovery in codes]
        if not self.store.confirm_totp(
            account.id, state.pending_secret, step, [h for h in hashes if h is not None]
        ):
            raise TwoStepLoginState("Two-step login was begun again meanwhile; start over.")
        log.info("organizer %s turned on two-step login", account.username)
        return codes

    def disable_totp(self, account: AccountInfo, code: str) -> None:
        """Turn two-step login off, with a current code or a recovery code."""
        now = self._code_attempt(account)
        if not account.totp_enabled:
            raise TwoStepLoginState("Two-step login is off already.")
        if not self._second_factor(account, code.strip(), now):
            self._code_failed(account, now)
            raise BrokerError(WRONG_ONE_TIME_CODE)
        self.store.disable_totp(account.id)
        log.info("organizer %s turned off two-step login", account.username)

    # Sessions -------------------------------------------------------------------------

    def create_session(
        self,
        organizer: AccountInfo,
        session_id: str | None = None,
        password: str | None = None,
        *,
        title: str | None = None,
        listed: bool = False,
        lobby: bool = False,
        two_party: bool = False,
        require_email: bool = False,
        join_before_host: bool = True,
    ) -> CreatedSession:
        """A new live session; with ``session_id``, that one or SessionIdTaken. The site
        policy holds over what the organizer asked: its password rules, unlisted, an
        e-mail address asked (the answer's settings are those in force)."""
        policy = self.store.policy()
        policy.check_session_password(password, organizer.username)
        settings = SessionSettings(
            title=normalize_title(title),
            listed=listed and not policy.all_unlisted,
            lobby=lobby,
            two_party=two_party,
            require_email=require_email or policy.require_attendee_email,
            join_before_host=join_before_host,
        )
        chosen = None
        if session_id is not None:
            chosen = normalize_session_id(session_id)
            if chosen is None:
                raise BrokerError("A session ID has 9 digits and does not start with 0.")
        password_hash = self.passwords.hash(password) if password else None
        for _ in range(1 if chosen else RANDOM_ID_ATTEMPTS):
            session_uid = secrets.token_bytes(SESSION_UID_BYTES)
            try:
                session = self.store.create_session(
                    chosen or random_session_id(),
                    session_uid,
                    organizer.id,
                    password_hash,
                    settings,
                )
            except SessionIdTaken:
                if chosen:
                    raise SessionIdTaken(
                        "A live session already has that ID; choose another."
                    ) from None
                continue
            log.info("organizer %s created session %s", organizer.username, session_uid.hex())
            return CreatedSession(
                session.session_id,
                session_uid,
                self.settings.invite_url(session.session_id),
                session.settings,
            )
        raise SessionIdTaken("No free session ID was found; try again.")

    def listed_sessions(self) -> list[ListedSession]:
        """Live sessions whose organizers chose to list them (no login needed); none
        while the site policy keeps every session unlisted."""
        if self.store.policy().all_unlisted:
            return []
        return self.store.listed_sessions(MAX_LISTED_SESSIONS)

    def join(
        self,
        session_id: str,
        display_name: str,
        agreement: bytes,
        ed25519: bytes,
        *,
        address: str,
        password: str | None = None,
        token: str | None = None,
        email: str | None = None,
    ) -> Admission:
        """Admit someone to a live session and sign their ticket.

        The session's organizer (``token``) joins as host, without password or
        per-session limits; everyone else joins as participant. After the password: an
        e-mail address if the session asks for one, not while a host has locked the
        meeting (the organizer still gets in), not once a two-party session has had both
        parties. The ticket carries the e-mail address and the session's rules.
        """
        name = normalize_display_name(display_name)
        _check_member_keys(agreement, ed25519)
        policy = self.store.policy()
        if policy.restricted_access and not token:
            raise AccountNeeded(ACCOUNT_NEEDED)
        organizer = self.authenticate(token) if token else None
        now = self.clock()
        self._throttle_address(address, now)
        wanted = normalize_session_id(session_id)
        if wanted is None:  # can never exist; saying so tells nothing
            raise JoinRefused(JOIN_REFUSED)
        session = self.store.live_session(wanted)
        if organizer is not None and session is not None and session.organizer_id == organizer.id:
            role = Role.HOST
        else:
            role = Role.PARTICIPANT
            wait = max(self.join_per_session.take(wanted, now), self.join_lockout.wait(wanted, now))
            if wait:
                log.info("joins throttled for a session ID, from %s", address)
                raise RateLimited("Too many attempts to join this session; try again later.", wait)
            # One argon2id check whatever the case (a decoy when there is no session), so
            # that an unknown ID and a wrong password take alike long.
            needs_password = session is None or session.password_hash is not None
            password_hash = session.password_hash if session is not None else None
            if needs_password and not self.passwords.verify(password_hash, password or ""):
                self.join_lockout.fail(wanted, now)
                log.info("join refused for address %s", address)
                raise JoinRefused(JOIN_REFUSED)
            # Only past the password: a full budget must not tell a guesser the ID is live.
            wait = self.admitted_per_session.wait(wanted, now)
            if wait:
                log.info("admissions throttled for a session, from %s", address)
                raise RateLimited("Too many people joined this session; try again later.", wait)
        assert session is not None
        email_address, rules = self._session_rules(session, role, email, policy)
        member_id = self.store.allocate_member_id(session.session_uid)
        if member_id is None:  # ended a moment ago
            raise JoinRefused(JOIN_REFUSED)
        if member_id > MAX_MEMBER_ID:
            raise SessionFull("This session cannot admit anyone more; start a new one.")
        home = self.relays.home(session.session_uid, self.local_relay)
        ticket = Ticket(
            session_uid=session.session_uid,
            member_id=member_id,
            display_name=name,
            role=role,
            agreement=agreement,
            ed25519=ed25519,
            relay="",  # set by _admission: the home relay's name (ticket v3)
            expires_at=0,
            email=email_address,
            rules=rules,
        )
        log.info(
            "member %d admitted to session %s as %s",
            member_id,
            session.session_uid.hex(),
            role.name.lower(),
        )
        self._count_admitted(address, wanted if role is Role.PARTICIPANT else None, now)
        return self._admission(ticket, home, now, session.settings.title)

    def _throttle_address(self, address: str, now: float) -> None:
        """An attempt takes a token before any work; one that succeeds gives it back (at
        the end): the attempt budgets count failures, and a meeting's own joins are
        bounded by the admitted_* budgets, sized for a full meeting (operators.md §6)."""
        wait = self.join_per_address.take(address, now)
        if wait:
            log.info("joins throttled for address %s", address)
            raise RateLimited("Too many join attempts from this address; wait a little.", wait)
        wait = self.admitted_per_address.wait(address, now)
        if wait:
            self.join_per_address.give_back(address, now)
            log.info("admissions throttled for address %s", address)
            raise RateLimited("Too many joins from this address; wait a little.", wait)

    def _count_admitted(self, address: str, session_id: str | None, now: float) -> None:
        """A join succeeded: its attempts are given back, it counts as admitted."""
        given_back = [(self.join_per_address, address)]
        spent = [(self.admitted_per_address, address)]
        if session_id is not None:  # a participant (the organizer spent no session budget)
            given_back.append((self.join_per_session, session_id))
            spent.append((self.admitted_per_session, session_id))
        settle(now, given_back, spent)

    def _admission(self, ticket: Ticket, home: Home, now: float, title: str | None) -> Admission:
        """Sign ``ticket`` for ``home``, fresh from ``now``, and say where to take it."""
        expires_at = int(now) + limits.TICKET_LIFETIME_SECONDS
        ticket = structs.replace(
            ticket, relay=home.relay.name, placement=home.placement, expires_at=expires_at
        )
        return Admission(
            ticket=sign_ticket(ticket, self._signing_key),
            member_id=ticket.member_id,
            role=ticket.role,
            session_uid=ticket.session_uid,
            relay_url=home.relay.wss_url,
            relays=home.relays,
            broker_public_key=self.public_key,
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            email=ticket.email,
            rules=ticket.rules,
            title=title,
        )

    def refresh(
        self,
        session_id: str,
        blob: bytes,
        timestamp: int,
        signature: bytes,
        *,
        address: str,
        failed_relay: str | None = None,
    ) -> Admission:
        """A fresh ticket for a member of a live session (docs/protocol.md §7.3), proven
        by the signature of its ticket's own key. Its home is placed again if it is not
        live any more (the relay that dropped the member, ``failed_relay``, most often)."""
        now = self.clock()
        try:  # no database work before the member is proven: a forgery costs a check
            ticket = verify_ticket(
                blob, self._signing_key.public_key(), now=now, check_expiry=False
            )
            Ed25519PublicKey.from_public_bytes(ticket.ed25519).verify(
                signature, refresh_message(blob, timestamp)
            )
        except (TicketError, InvalidSignature, ValueError):
            log.info("a refresh from %s did not prove its member", address)
            raise RefreshRefused(REFRESH_REFUSED) from None
        # Per member, not per address: reconnecting members do not spend the joins of
        # everyone behind the same address.
        wait = self.refresh_per_member.take(f"{ticket.session_uid.hex()}/{ticket.member_id}", now)
        if wait:
            log.info("refreshes throttled for member %d", ticket.member_id)
            raise RateLimited("Too many ticket refreshes; wait a little.", wait)
        wanted = normalize_session_id(session_id)
        session = self.store.live_session(wanted) if wanted else None
        if session is None or session.session_uid != ticket.session_uid:
            raise RefreshRefused(REFRESH_REFUSED)
        if abs(timestamp - now) > limits.RELAY_REPORT_CLOCK_SKEW_SECONDS:
            raise RefreshRefused(STALE_REFRESH)
        ticket = self._carried_on(ticket)
        home = self.relays.home(session.session_uid, self.local_relay, failed_relay)
        if failed_relay is not None and failed_relay == home.relay.name:
            # Still heard from: the member's own link failed, or the relay died too
            # recently to be called dead (RELAY_DEAD_SECONDS); it is placed again then.
            log.info("member %d reports its live home %s failed", ticket.member_id, failed_relay)
        log.info(
            "member %d of session %s refreshed its ticket", ticket.member_id,
            session.session_uid.hex(),
        )  # fmt: skip
        return self._admission(ticket, home, now, session.settings.title)

    def _carried_on(self, ticket: Ticket) -> Ticket:
        """The ticket as the session's hosts have since decided: a removed member gets
        none, an admitted one waits in no lobby again, a new role holds (the relay
        reports these; a new home relay knows nothing of the old one's decisions)."""
        standing = self.store.standing(ticket.session_uid, ticket.member_id)
        if standing.removed:
            raise RefreshRefused(REMOVED)
        role = standing.role or ticket.role
        rules = ticket.rules
        if standing.admitted or role is Role.HOST:
            rules &= ~TicketRule.WAIT_IN_LOBBY
        # The site policy as it is now (docs/protocol.md §7.3).
        rules = (rules & ~SITE_RULES) | self.store.policy().ticket_rules
        return structs.replace(ticket, role=role, rules=rules)

    def _session_rules(
        self, session: SessionInfo, role: Role, email: str | None, policy: SitePolicy
    ) -> tuple[str, TicketRule]:
        """The session's own rules and the site's for one who passed the password
        check, in order: a password the site requires (a session made before the rule),
        the e-mail address asked for, the lock, two parties at most. The normalized
        e-mail address ("" if none) and the ticket's rules."""
        settings = session.settings
        if policy.require_session_password and session.password_hash is None:
            raise PolicyRefused(NO_SESSION_PASSWORD)
        given = email is not None and bool(email.strip())
        email_address = normalize_email(email) if email is not None and given else None
        wants_email = settings.require_email or policy.require_attendee_email
        if role is not Role.HOST and wants_email and email_address is None:
            raise BrokerError(EMAIL_REQUIRED)
        if given and email_address is None:
            raise BrokerError(EMAIL_INVALID)
        if role is not Role.HOST and session.locked:
            raise SessionLocked(SESSION_LOCKED)
        if settings.two_party and self.store.joined_members(session.session_uid) >= TWO_PARTIES:
            raise TwoPartyFull(TWO_PARTY_FULL)
        rules = TicketRule(0)
        if settings.lobby and role is not Role.HOST:
            rules |= TicketRule.WAIT_IN_LOBBY
        if settings.two_party:
            rules |= TicketRule.TWO_PARTY
        if settings.join_before_host:
            rules |= TicketRule.JOIN_BEFORE_HOST
        return email_address or "", rules | policy.ticket_rules

    def end_session(self, organizer: AccountInfo, session_id: str) -> None:
        """End one of ``organizer``'s live sessions. Someone else's session and no
        session get the same SessionNotFound: organizers cannot probe each other's IDs."""
        wanted = normalize_session_id(session_id)
        session = self.store.live_session(wanted) if wanted else None
        if session is None or session.organizer_id != organizer.id:
            raise SessionNotFound("You have no live session with that ID.")
        if not self.store.end_session(session.session_uid):
            return  # ended by someone else a moment ago: the hook has run for it
        log.info("organizer %s ended session %s", organizer.username, session.session_uid.hex())
        if self.on_session_ended is not None:
            try:
                self.on_session_ended(session.session_uid)
            except Exception:
                # The session is ended for good in the database; a relay that failed to
                # hear it must not turn the organizer's request into an error.
                log.exception("on_session_ended failed for %s", session.session_uid.hex())

    def records(
        self,
        organizer: AccountInfo,
        since: datetime | None = None,
        where: RecordFilter | None = None,
    ) -> list[EventRecord]:
        """Event records of ``organizer``'s own sessions."""
        return self.store.records(since, organizer_id=organizer.id, where=where)

    def all_records(self, admin: AccountInfo, where: RecordFilter) -> list[EventRecord]:
        """Every event record the filter selects (an administrator's view)."""
        if not admin.is_admin:
            raise AdminOnly(ADMIN_ONLY)
        return self.store.records(where=where)

    def member_summaries(self, admin: AccountInfo, where: RecordFilter) -> list[MemberSummary]:
        """Per member: joined, left, how long, bytes (an administrator's view)."""
        if not admin.is_admin:
            raise AdminOnly(ADMIN_ONLY)
        return summaries(self.store, where)


def summaries(store: Store, where: RecordFilter) -> list[MemberSummary]:
    """The member summaries the filter selects: members first admitted within its time
    range (their later leave records count, whenever they came)."""
    found = store.records(
        where=RecordFilter(where.session_id, where.organizer, since=where.since),
        kinds=(RecordKind.JOIN, RecordKind.LEAVE),
    )
    return member_summaries(found, where.since, where.until)


def _check_member_keys(agreement: bytes, ed25519: bytes) -> None:
    """A join's two public keys, checked before anything else: a key no leader could
    seal to would keep the whole session keyless (§6)."""
    if len(ed25519) != PUBLIC_KEY_BYTES:
        raise BrokerError("The signing public key must have 32 bytes.")
    try:
        check_agreement_key(agreement)
    except TicketError:
        raise BrokerError(
            "The agreement public key is not a valid ML-KEM-768 + X25519 key."
        ) from None
