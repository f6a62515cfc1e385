"""The repository: every read and write of the broker's database goes through ``Store``.

Methods return frozen snapshots (``AccountInfo``, ``SessionInfo``, ``EventRecord``, …),
never ORM objects, and each runs in its own short transaction, so a ``Store`` is safe to use
from several threads (FastAPI runs plain endpoints in a thread pool).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    CursorResult,
    Delete,
    Engine,
    Update,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from relaydesk import limits
from relaydesk.broker import models
from relaydesk.broker.database import open_database
from relaydesk.broker.policy import SitePolicy
from relaydesk.broker.records import EventRecord, RecordFilter
from relaydesk.errors import (
    AccountExists,
    AccountNotFound,
    BrokerError,
    LastAdministrator,
    ResetNotFound,
    ResetState,
    SessionIdTaken,
)
from relaydesk.protocol.messages import Role
from relaydesk.relay.records import MAX_DETAIL_CHARS, RecordKind, role_name

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Returns the current time as Unix seconds (``time.time``; a fake one in tests)."""

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    username: str
    disabled: bool
    created_at: datetime
    totp_enabled: bool = False  # two-step login is on (a confirmed TOTP secret)
    is_admin: bool = False  # a site administrator (the admin API)


@dataclass(frozen=True, slots=True)
class TotpState:
    """An account's two-step login: the confirmed secret (None: off), the pending one
    (enrolled, not confirmed yet) and the time step of the last code accepted."""

    secret: str | None
    pending_secret: str | None
    last_step: int | None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What an organizer chooses for a session when creating it."""

    title: str | None = None
    listed: bool = False  # shown by GET /api/sessions/listed
    lobby: bool = False  # participants wait until a host admits them
    two_party: bool = False  # a support session: two members at most
    require_email: bool = False  # joining needs an e-mail address
    join_before_host: bool = True  # participants may be in (chat only) before a host


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    session_uid: bytes
    organizer_id: int
    password_hash: str | None
    created_at: datetime
    ended_at: datetime | None
    settings: SessionSettings = SessionSettings()
    locked: bool = False  # a host locked it: nobody new may join


@dataclass(frozen=True, slots=True)
class ListedSession:
    session_id: str
    title: str | None
    host: str  # the organizer's username


def _changed(db: DbSession, statement: Update | Delete) -> int:
    """How many rows an UPDATE or DELETE changed."""
    result = db.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def check_username(username: str) -> None:
    if not 1 <= len(username) <= limits.MAX_USERNAME_CHARS or not USERNAME.fullmatch(username):
        raise BrokerError(
            f"a username has 1 to {limits.MAX_USERNAME_CHARS} characters: letters, digits "
            "and . _ @ + - (not first)"
        )


def _account(row: models.Account) -> AccountInfo:
    return AccountInfo(
        row.id,
        row.username,
        row.disabled,
        row.created_at,
        row.totp_secret is not None,
        bool(row.is_admin),
    )


class ResetStatus:
    """The states of a password reset request (``password_resets.state``)."""

    PENDING = "pending"  # waits for an administrator
    APPROVED = "approved"  # a code was made; it works until used or expired
    DENIED = "denied"
    USED = "used"  # the password was set with it (or with a one-time code)


@dataclass(frozen=True, slots=True)
class PasswordResetInfo:
    id: int
    username: str
    requested_at: datetime
    requested_from: str  # the client address the request came from
    state: str  # ResetStatus, with "expired" for a lapsed request or code
    decided_at: datetime | None
    decided_by: str | None
    code_expires_at: datetime | None
    used_at: datetime | None


def _policy(row: models.SitePolicy | None) -> SitePolicy:
    if row is None:
        return SitePolicy()
    return SitePolicy(
        require_session_password=row.require_session_password,
        min_account_password_chars=row.min_account_password_chars,
        min_session_password_chars=row.min_session_password_chars,
        strong_passwords=row.strong_passwords,
        all_unlisted=row.all_unlisted,
        require_attendee_email=row.require_attendee_email,
        restricted_access=row.restricted_access,
        disable_sharing=row.disable_sharing,
        disable_control=row.disable_control,
        approve_password_resets=row.approve_password_resets,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _session(row: models.Session) -> SessionInfo:
    return SessionInfo(
        row.session_id,
        row.session_uid,
        row.organizer_id,
        row.password_hash,
        row.created_at,
        row.ended_at,
        SessionSettings(
            title=row.title,
            listed=row.listed,
            lobby=row.lobby,
            two_party=row.two_party,
            require_email=row.require_email,
            join_before_host=row.join_before_host,
        ),
        row.locked,
    )


def _record(row: models.EventRecord, organizer: str | None = None) -> EventRecord:
    return EventRecord(
        session_id=row.session_id,
        session_uid=row.session_uid,
        kind=RecordKind(row.kind),
        member_id=row.member_id,
        display_name=row.display_name,
        role=row.role,
        at=row.at,
        bytes_in=row.bytes_in,
        bytes_out=row.bytes_out,
        detail=row.detail,
        email=row.email,
        organizer=organizer,
    )


def _reset_state(row: models.PasswordReset, now: datetime) -> str:
    if row.state == ResetStatus.APPROVED and (
        row.code_expires_at is not None and row.code_expires_at <= now
    ):
        return "expired"
    return row.state


def _reset(row: models.PasswordReset, username: str, now: datetime) -> PasswordResetInfo:
    return PasswordResetInfo(
        id=row.id,
        username=username,
        requested_at=row.requested_at,
        requested_from=row.requested_from,
        state=_reset_state(row, now),
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        code_expires_at=row.code_expires_at,
        used_at=row.used_at,
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """What the session's relay reported about one member: all a refreshed ticket must
    carry on to a new home relay, which knows nothing of the old one's decisions."""

    removed: bool = False  # expelled, or refused entry from the lobby: never back
    admitted: bool = False  # let in from the lobby: waits there no more
    role: Role | None = None  # the last role a host gave it, if any


class Store:
    """The broker's database. Also the ``RecordSink`` the embedded relay reports to."""

    def __init__(self, engine: Engine, clock: Clock = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._db = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, clock: Clock = time.time) -> Store:
        """Connect to ``url`` and migrate the schema to the newest revision."""
        return cls(open_database(url), clock)

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # Accounts -------------------------------------------------------------------------

    def add_account(self, username: str, password_hash: str) -> AccountInfo:
        check_username(username)
        row = models.Account(
            username=username, password_hash=password_hash, disabled=False, created_at=self.now()
        )
        try:
            with self._db.begin() as db:
                db.add(row)
        except IntegrityError:
            raise AccountExists(f"an account named {username!r} exists already") from None
        return _account(row)

    def account(self, username: str) -> tuple[AccountInfo, str] | None:
        """The account and its password hash, or None."""
        with self._db.begin() as db:
            row = db.scalar(select(models.Account).where(models.Account.username == username))
            return None if row is None else (_account(row), row.password_hash)

    def accounts(self) -> list[AccountInfo]:
        with self._db.begin() as db:
            rows = db.scalars(select(models.Account).order_by(models.Account.username))
            return [_account(row) for row in rows]

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (or enable again) an account; disabling also ends its logins."""
        with self._db.begin() as db:
            row = self._account_row(db, username)
            row.disabled = disabled
            if disabled:
                db.execute(
                    delete(models.OrganizerToken).where(models.OrganizerToken.account_id == row.id)
                )

    def set_admin(self, username: str, admin: bool, *, keep_one: bool = False) -> bool:
        """Make an account a site administrator, or an organizer only again; whether it
        changed. With ``keep_one``, LastAdministrator rather than leave the site none."""
        with self._db.begin() as db:
            row = self._account_row(db, username)
            if bool(row.is_admin) == admin:
                return False
            if not admin and keep_one:
                admins = db.scalar(
                    select(func.count())
                    .select_from(models.Account)
                    .where(models.Account.is_admin.is_(True), models.Account.disabled.is_(False))
                )
                if int(admins or 0) <= 1:
                    raise LastAdministrator(
                        f"{username} is the site's last administrator; make another one first"
                    )
            row.is_admin = admin
            return True

    def account_by_id(self, account_id: int) -> AccountInfo | None:
        with self._db.begin() as db:
            row = db.get(models.Account, account_id)
            return None if row is None else _account(row)

    def _account_row(self, db: DbSession, username: str) -> models.Account:
        row = db.scalar(select(models.Account).where(models.Account.username == username))
        if row is None:
            raise AccountNotFound(f"no account is named {username!r}")
        return row

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        with self._db.begin() as db:
            db.execute(
                update(models.Account)
                .where(models.Account.id == account_id)
                .values(password_hash=password_hash)
            )

    # The site policy (one row; broker/policy.py) --------------------------------------

    def policy(self) -> SitePolicy:
        with self._db.begin() as db:
            return _policy(db.get(models.SitePolicy, models.SITE_POLICY_ROW))

    def set_policy(self, policy: SitePolicy, by: str) -> SitePolicy:
        """Store ``policy`` as the site's, changed by administrator ``by`` now."""
        with self._db.begin() as db:
            row = db.get(models.SitePolicy, models.SITE_POLICY_ROW)
            if row is None:  # the migration made it; a database emptied by hand did not
                row = models.SitePolicy(id=models.SITE_POLICY_ROW)
                db.add(row)
            for name, value in policy.rules().items():
                setattr(row, name, value)
            row.updated_at = self.now()
            row.updated_by = by
            db.flush()
            return _policy(row)

    def change_policy(self, changes: dict[str, object], by: str) -> SitePolicy:
        """Change the rules named in ``changes`` (BrokerError for a bad one), the others
        as they are in the database: read and written in one transaction, so that two
        administrators changing different rules at once lose neither change."""
        with self._db.begin() as db:
            row = db.get(models.SitePolicy, models.SITE_POLICY_ROW, with_for_update=True)
            changed = _policy(row).changed(changes)
            if row is None:
                row = models.SitePolicy(id=models.SITE_POLICY_ROW)
                db.add(row)
            for name, value in changed.rules().items():
                setattr(row, name, value)
            row.updated_at = self.now()
            row.updated_by = by
            db.flush()
            return _policy(row)

    # Password reset requests (docs/operators.md "Password resets") --------------------

    def add_password_reset(self, username: str, address: str) -> bool:
        """A pending request for ``username``'s account, unless it has none (or is
        disabled), a request of it waits already, or MAX_PENDING_RESETS wait in all.
        Whether one was added (never told to the one asking)."""
        now = self.now()
        with self._db.begin() as db:
            account = db.scalar(select(models.Account).where(models.Account.username == username))
            if account is None or account.disabled:
                return False
            self._lapse_resets(db, now)
            waiting = db.scalar(
                select(func.count())
                .select_from(models.PasswordReset)
                .where(models.PasswordReset.state == ResetStatus.PENDING)
            )
            mine = db.scalar(
                select(models.PasswordReset.id).where(
                    models.PasswordReset.account_id == account.id,
                    models.PasswordReset.state == ResetStatus.PENDING,
                )
            )
            if mine is not None or int(waiting or 0) >= limits.MAX_PENDING_RESETS:
                return False
            db.add(
                models.PasswordReset(
                    account_id=account.id,
                    requested_at=now,
                    requested_from=address[: models.MAX_ADDRESS_CHARS],
                    state=ResetStatus.PENDING,
                )
            )
            return True

    def _lapse_resets(self, db: DbSession, now: datetime) -> None:
        """Undecided requests older than RESET_REQUEST_LIFETIME_SECONDS lapse (denied,
        by nobody), so that one forgotten request never blocks a new one."""
        oldest = datetime.fromtimestamp(
            now.timestamp() - limits.RESET_REQUEST_LIFETIME_SECONDS, UTC
        )
        db.execute(
            update(models.PasswordReset)
            .where(
                models.PasswordReset.state == ResetStatus.PENDING,
                models.PasswordReset.requested_at < oldest,
            )
            .values(state=ResetStatus.DENIED, decided_at=now, decided_by=None)
        )

    def password_resets(self, everything: bool = False) -> list[PasswordResetInfo]:
        """Requests waiting for a decision, oldest first; ``everything``: all of them."""
        now = self.now()
        query = (
            select(models.PasswordReset, models.Account.username)
            .join(models.Account, models.Account.id == models.PasswordReset.account_id)
            .order_by(models.PasswordReset.requested_at, models.PasswordReset.id)
        )
        if not everything:
            query = query.where(models.PasswordReset.state == ResetStatus.PENDING)
        with self._db.begin() as db:
            self._lapse_resets(db, now)
            return [_reset(row, username, now) for row, username in db.execute(query)]

    def decide_password_reset(
        self,
        reset_id: int,
        by: str,
        *,
        code_hash: str | None,
        code_expires_at: datetime | None = None,
    ) -> PasswordResetInfo:
        """Approve a pending request (with its code's hash) or deny it (``code_hash``
        None). ResetNotFound, or ResetState if it is no longer pending."""
        now = self.now()
        with self._db.begin() as db:
            self._lapse_resets(db, now)
            found = db.execute(
                select(models.PasswordReset, models.Account.username)
                .join(models.Account, models.Account.id == models.PasswordReset.account_id)
                .where(models.PasswordReset.id == reset_id)
            ).first()
            if found is None:
                raise ResetNotFound(f"no password reset request has the id {reset_id}")
            row, username = found
            if row.state != ResetStatus.PENDING:
                raise ResetState(f"request {reset_id} is {_reset_state(row, now)} already")
            row.state = ResetStatus.APPROVED if code_hash is not None else ResetStatus.DENIED
            row.decided_at, row.decided_by = now, by
            row.code_hash, row.code_expires_at = code_hash, code_expires_at
            db.flush()
            return _reset(row, username, now)

    def reset_password_with_code(
        self, username: str, code_hash: str, password_hash: str
    ) -> AccountInfo | None:
        """Spend an approved, unexpired reset code of ``username``'s account: the new
        password is set and every login of the account ends, in one transaction. None if
        no such code (wrong, used, expired, another account's)."""
        now = self.now()
        with self._db.begin() as db:
            account = db.scalar(select(models.Account).where(models.Account.username == username))
            if account is None or account.disabled:
                return None
            spent = _changed(
                db,
                update(models.PasswordReset)
                .where(
                    models.PasswordReset.account_id == account.id,
                    models.PasswordReset.state == ResetStatus.APPROVED,
                    models.PasswordReset.code_hash == code_hash,
                    models.PasswordReset.code_expires_at > now,
                )
                .values(state=ResetStatus.USED, used_at=now),
            )
            if spent != 1:
                return None
            self._new_password(db, account, password_hash, now)
            return _account(account)

    def reset_password(self, account_id: int, password_hash: str) -> None:
        """Set a new password (its owner proved itself otherwise: a one-time code):
        every login of the account ends and its waiting requests are settled."""
        now = self.now()
        with self._db.begin() as db:
            account = db.get(models.Account, account_id)
            if account is not None:
                self._new_password(db, account, password_hash, now)

    def _new_password(
        self, db: DbSession, account: models.Account, password_hash: str, now: datetime
    ) -> None:
        account.password_hash = password_hash
        db.execute(
            delete(models.OrganizerToken).where(models.OrganizerToken.account_id == account.id)
        )
        db.execute(
            update(models.PasswordReset)
            .where(
                models.PasswordReset.account_id == account.id,
                models.PasswordReset.state.in_((ResetStatus.PENDING, ResetStatus.APPROVED)),
            )
            .values(state=ResetStatus.USED, used_at=now)
        )

    # Two-step login (TOTP secrets; only the SHA-256 of recovery codes) ----------------

    def totp_state(self, account_id: int) -> TotpState:
        with self._db.begin() as db:
            row = db.get(models.Account, account_id)
            if row is None:
                return TotpState(None, None, None)
            return TotpState(row.totp_secret, row.totp_pending_secret, row.totp_last_step)

    def set_pending_totp(self, account_id: int, secret: str) -> None:
        """Enrolment: ``secret`` waits for its first code (it replaces an earlier one)."""
        with self._db.begin() as db:
            db.execute(
                update(models.Account)
                .where(models.Account.id == account_id)
                .values(totp_pending_secret=secret)
            )

    def confirm_totp(
        self, account_id: int, pending_secret: str, step: int, code_hashes: list[str]
    ) -> bool:
        """The pending secret becomes the account's (its code of time step ``step`` was
        right), with these recovery codes instead of any earlier ones. False if the
        pending secret is no longer ``pending_secret`` (enrolled again meanwhile)."""
        now = self.now()
        with self._db.begin() as db:
            changed = _changed(
                db,
                update(models.Account)
                .where(
                    models.Account.id == account_id,
                    models.Account.totp_pending_secret == pending_secret,
                )
                .values(totp_secret=pending_secret, totp_pending_secret=None, totp_last_step=step),
            )
            if changed != 1:
                return False
            db.execute(
                delete(models.RecoveryCode).where(models.RecoveryCode.account_id == account_id)
            )
            db.add_all(
                models.RecoveryCode(account_id=account_id, code_hash=code_hash, created_at=now)
                for code_hash in code_hashes
            )
            return True

    def accept_totp_step(self, account_id: int, step: int) -> bool:
        """Record that a code of time step ``step`` was used; False if one of that step
        or a later one was accepted before (a replayed code). One UPDATE: of two
        logins racing with the same code, only one wins."""
        with self._db.begin() as db:
            changed = _changed(
                db,
                update(models.Account)
                .where(
                    models.Account.id == account_id,
                    models.Account.totp_secret.is_not(None),
                    or_(
                        models.Account.totp_last_step.is_(None),
                        models.Account.totp_last_step < step,
                    ),
                )
                .values(totp_last_step=step),
            )
            return bool(changed == 1)

    def use_recovery_code(self, account_id: int, code_hash: str) -> bool:
        """Spend an unused recovery code; False if there is none with that hash."""
        with self._db.begin() as db:
            changed = _changed(
                db,
                update(models.RecoveryCode)
                .where(
                    models.RecoveryCode.account_id == account_id,
                    models.RecoveryCode.code_hash == code_hash,
                    models.RecoveryCode.used_at.is_(None),
                )
                .values(used_at=self.now()),
            )
            return bool(changed == 1)

    def recovery_codes_left(self, account_id: int) -> int:
        with self._db.begin() as db:
            count = db.scalar(
                select(func.count())
                .select_from(models.RecoveryCode)
                .where(
                    models.RecoveryCode.account_id == account_id,
                    models.RecoveryCode.used_at.is_(None),
                )
            )
            return int(count or 0)

    def _clear_totp(self, db: DbSession, row: models.Account) -> None:
        row.totp_secret = None
        row.totp_pending_secret = None
        row.totp_last_step = None
        db.execute(delete(models.RecoveryCode).where(models.RecoveryCode.account_id == row.id))

    def disable_totp(self, account_id: int) -> None:
        with self._db.begin() as db:
            row = db.get(models.Account, account_id)
            if row is not None:
                self._clear_totp(db, row)

    def reset_totp(self, username: str) -> bool:
        """The administrator's reset (a lost phone): two-step login off, recovery codes
        gone. False if it was off already."""
        with self._db.begin() as db:
            row = self._account_row(db, username)
            was_on = row.totp_secret is not None or row.totp_pending_secret is not None
            self._clear_totp(db, row)
            return was_on

    # Organizer tokens (only their SHA-256 is stored) ----------------------------------

    def add_token(self, token_hash: str, account_id: int, expires_at: datetime) -> None:
        now = self.now()
        with self._db.begin() as db:
            # Expired logins are of no use to anyone: drop them as new ones come.
            db.execute(delete(models.OrganizerToken).where(models.OrganizerToken.expires_at <= now))
            db.add(
                models.OrganizerToken(
                    token_hash=token_hash,
                    account_id=account_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def account_for_token(self, token_hash: str) -> AccountInfo | None:
        """The account logged in with that token, or None if unknown or expired."""
        found = self.token_login(token_hash)
        return None if found is None else found[0]

    def token_login(self, token_hash: str) -> tuple[AccountInfo, datetime] | None:
        """The account logged in with that token and when the login expires, or None if
        unknown or expired."""
        with self._db.begin() as db:
            found = db.execute(
                select(models.Account, models.OrganizerToken.expires_at)
                .join(models.OrganizerToken)
                .where(
                    models.OrganizerToken.token_hash == token_hash,
                    models.OrganizerToken.expires_at > self.now(),
                )
            ).first()
            return None if found is None else (_account(found[0]), found[1])

    def delete_token(self, token_hash: str) -> bool:
        """Log out: the token stops working at once. False if there was no such token."""
        with self._db.begin() as db:
            deleted = _changed(
                db,
                delete(models.OrganizerToken).where(models.OrganizerToken.token_hash == token_hash),
            )
            return deleted > 0

    # Sessions -------------------------------------------------------------------------

    def create_session(
        self,
        session_id: str,
        session_uid: bytes,
        organizer_id: int,
        password_hash: str | None,
        settings: SessionSettings | None = None,
    ) -> SessionInfo:
        """SessionIdTaken if a live session has ``session_id`` (the database decides)."""
        chosen = settings or SessionSettings()
        row = models.Session(
            session_id=session_id,
            session_uid=session_uid,
            organizer_id=organizer_id,
            password_hash=password_hash,
            created_at=self.now(),
            ended_at=None,
            settings={},
            title=chosen.title,
            listed=chosen.listed,
            lobby=chosen.lobby,
            two_party=chosen.two_party,
            require_email=chosen.require_email,
            join_before_host=chosen.join_before_host,
            locked=False,
            next_member_id=1,
        )
        try:
            with self._db.begin() as db:
                db.add(row)
        except IntegrityError:
            raise SessionIdTaken("a live session already has that ID") from None
        return _session(row)

    def live_session(self, session_id: str) -> SessionInfo | None:
        with self._db.begin() as db:
            row = db.scalar(
                select(models.Session).where(
                    models.Session.session_id == session_id, models.Session.ended_at.is_(None)
                )
            )
            return None if row is None else _session(row)

    def listed_sessions(self, limit: int) -> list[ListedSession]:
        """Live sessions their organizers chose to list, oldest first, at most ``limit``."""
        query = (
            select(models.Session.session_id, models.Session.title, models.Account.username)
            .join(models.Account, models.Account.id == models.Session.organizer_id)
            .where(models.Session.listed.is_(True), models.Session.ended_at.is_(None))
            .order_by(models.Session.created_at, models.Session.id)
            .limit(limit)
        )
        with self._db.begin() as db:
            return [ListedSession(*row) for row in db.execute(query)]

    def joined_members(self, session_uid: bytes) -> int:
        """How many distinct members the relay has admitted to the session (its join
        records): a two-party session admits nobody once two have been in."""
        with self._db.begin() as db:
            count = db.scalar(
                select(func.count(models.EventRecord.member_id.distinct())).where(
                    models.EventRecord.session_uid == session_uid,
                    models.EventRecord.kind == RecordKind.JOIN.value,
                )
            )
            return int(count or 0)

    def allocate_member_id(self, session_uid: bytes) -> int | None:
        """The next member id of a live session (1, 2, …; never reused), or None if the
        session has ended. One UPDATE … RETURNING: concurrent joins get distinct ids."""
        with self._db.begin() as db:
            next_id = db.scalar(
                update(models.Session)
                .where(models.Session.session_uid == session_uid, models.Session.ended_at.is_(None))
                .values(next_member_id=models.Session.next_member_id + 1)
                .returning(models.Session.next_member_id)
            )
            return None if next_id is None else next_id - 1

    def end_session(self, session_uid: bytes) -> bool:
        """End a session and record its end; False if it had ended already."""
        now = self.now()
        with self._db.begin() as db:
            row = db.scalar(
                select(models.Session).where(
                    models.Session.session_uid == session_uid, models.Session.ended_at.is_(None)
                )
            )
            if row is None:
                return False
            row.ended_at = now
            self._add_record_once(db, row, RecordKind.SESSION_END, now)
            return True

    # Records --------------------------------------------------------------------------

    def records(
        self,
        since: datetime | None = None,
        organizer_id: int | None = None,
        *,
        where: RecordFilter | None = None,
        kinds: tuple[RecordKind, ...] = (),
    ) -> list[EventRecord]:
        """Records oldest first, each with its session's organizer: at or after
        ``since``; only the sessions of ``organizer_id`` if given; and as ``where``
        narrows them (session ID, organizer's username, from, to); only ``kinds``."""
        where = where or RecordFilter()
        since = since or where.since
        query = (
            select(models.EventRecord, models.Account.username)
            .outerjoin(models.Session, models.Session.session_uid == models.EventRecord.session_uid)
            .outerjoin(models.Account, models.Account.id == models.Session.organizer_id)
            .order_by(models.EventRecord.at, models.EventRecord.id)
        )
        if since is not None:
            query = query.where(models.EventRecord.at >= since)
        if where.until is not None:
            query = query.where(models.EventRecord.at < where.until)
        if where.session_id is not None:
            query = query.where(models.EventRecord.session_id == where.session_id)
        if where.organizer is not None:
            query = query.where(models.Account.username == where.organizer)
        if organizer_id is not None:
            query = query.where(models.Session.organizer_id == organizer_id)
        if kinds:
            query = query.where(models.EventRecord.kind.in_([kind.value for kind in kinds]))
        with self._db.begin() as db:
            return [_record(row, organizer) for row, organizer in db.execute(query)]

    def standing(self, session_uid: bytes, member_id: int) -> Standing:
        """The member's standing from the records of its session, oldest first."""
        kinds = (RecordKind.EXPEL.value, RecordKind.ADMIT.value, RecordKind.ROLE.value)
        query = (
            select(models.EventRecord.kind, models.EventRecord.detail)
            .where(
                models.EventRecord.session_uid == session_uid,
                models.EventRecord.member_id == member_id,
                models.EventRecord.kind.in_(kinds),
            )
            .order_by(models.EventRecord.at, models.EventRecord.id)
        )
        removed = admitted = False
        role: Role | None = None
        with self._db.begin() as db:
            for kind, detail in db.execute(query):
                fields = dict(part.split("=", 1) for part in (detail or "").split() if "=" in part)
                if kind == RecordKind.EXPEL.value or fields.get("result") == "refused":
                    removed = True
                elif kind == RecordKind.ADMIT.value:
                    admitted = True
                elif fields.get("role", "").upper() in Role.__members__:
                    role = Role[fields["role"].upper()]
        return Standing(removed, admitted, role)

    def _session_by_uid(
        self, db: DbSession, session_uid: bytes, event: str
    ) -> models.Session | None:
        row = db.scalar(select(models.Session).where(models.Session.session_uid == session_uid))
        if row is None:
            log.warning("event %r for unknown session uid %s dropped", event, session_uid.hex())
        return row

    def _add_record_once(
        self, db: DbSession, session: models.Session, kind: RecordKind, now: datetime
    ) -> None:
        seen = db.scalar(
            select(models.EventRecord.id).where(
                models.EventRecord.session_uid == session.session_uid,
                models.EventRecord.kind == kind.value,
            )
        )
        if seen is None:
            db.add(_new_record(session, kind, now))

    # RecordSink, for the relay --------------------------------------------------------

    def session_started(self, session_uid: bytes) -> None:
        now = self.now()
        with self._db.begin() as db:
            session = self._session_by_uid(db, session_uid, "session_start")
            if session is not None:
                self._add_record_once(db, session, RecordKind.SESSION_START, now)

    def member_joined(
        self,
        session_uid: bytes,
        member_id: int,
        display_name: str,
        role: Role | str,
        email: str = "",
    ) -> None:
        now = self.now()
        with self._db.begin() as db:
            session = self._session_by_uid(db, session_uid, "join")
            if session is not None:
                record = _new_record(session, RecordKind.JOIN, now, member_id)
                record.display_name = display_name[: limits.MAX_DISPLAY_NAME_CHARS]
                record.role = role_name(role)
                record.email = email[: limits.MAX_EMAIL_CHARS] or None
                db.add(record)

    def member_left(
        self, session_uid: bytes, member_id: int, bytes_in: int, bytes_out: int
    ) -> None:
        now = self.now()
        with self._db.begin() as db:
            session = self._session_by_uid(db, session_uid, "leave")
            if session is not None:
                record = self._member_record(db, session, RecordKind.LEAVE, now, member_id)
                record.bytes_in = bytes_in
                record.bytes_out = bytes_out
                db.add(record)

    def session_locked(self, session_uid: bytes, locked: bool, by: int) -> None:
        """A ``lock`` record about the host ``by``, and the session's flag: while it is
        set, ``Broker.join`` admits nobody new."""
        now = self.now()
        with self._db.begin() as db:
            session = self._session_by_uid(db, session_uid, RecordKind.LOCK.value)
            if session is not None:
                session.locked = locked
                record = self._member_record(db, session, RecordKind.LOCK, now, by)
                record.detail = f"locked={str(locked).lower()} by={by}"
                db.add(record)

    def member_event(
        self, session_uid: bytes, kind: RecordKind, member_id: int, detail: str
    ) -> None:
        now = self.now()
        with self._db.begin() as db:
            session = self._session_by_uid(db, session_uid, kind.value)
            if session is not None:
                record = self._member_record(db, session, kind, now, member_id)
                record.detail = detail[:MAX_DETAIL_CHARS]
                db.add(record)

    def _member_record(
        self, db: DbSession, session: models.Session, kind: RecordKind, now: datetime,
        member_id: int,
    ) -> models.EventRecord:  # fmt: skip
        """A record about a member that repeats its name, role and e-mail address (from
        its join record), so that it reads on its own."""
        joined = db.scalar(
            select(models.EventRecord)
            .where(
                models.EventRecord.session_uid == session.session_uid,
                models.EventRecord.member_id == member_id,
                models.EventRecord.kind == RecordKind.JOIN.value,
            )
            .order_by(models.EventRecord.id.desc())
            .limit(1)
        )
        record = _new_record(session, kind, now, member_id)
        if joined is not None:
            record.display_name = joined.display_name
            record.role = joined.role
            record.email = joined.email
        return record

    def session_ended(self, session_uid: bytes) -> None:
        if not self.end_session(session_uid):
            log.debug("session %s had ended already", session_uid.hex())


def _new_record(
    session: models.Session, kind: RecordKind, at: datetime, member_id: int | None = None
) -> models.EventRecord:
    return models.EventRecord(
        session_id=session.session_id,
        session_uid=session.session_uid,
        kind=kind.value,
        member_id=member_id,
        display_name=None,
        email=None,
        role=None,
        at=at,
        bytes_in=0,
        bytes_out=0,
        detail=None,
    )
