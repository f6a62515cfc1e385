"""The repository: every read and write of the broker's database goes through ``Store``.

Methods return frozen snapshots (``AccountInfo``, ``SessionInfo``, ``EventRecord``), never
ORM objects, and each runs in its own short transaction, so a ``Store`` is safe to use
from several threads (FastAPI runs plain endpoints in a thread pool).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from relaydesk import limits
from relaydesk.broker import models
from relaydesk.broker.database import open_database
from relaydesk.broker.records import EventRecord
from relaydesk.errors import AccountExists, AccountNotFound, BrokerError, SessionIdTaken
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


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    session_uid: bytes
    organizer_id: int
    password_hash: str | None
    created_at: datetime
    ended_at: datetime | None


def check_username(username: str) -> None:
    if not 1 <= len(username) <= limits.MAX_USERNAME_CHARS or not USERNAME.fullmatch(username):
        raise BrokerError(
            f"a username has 1 to {limits.MAX_USERNAME_CHARS} characters: letters, digits "
            "and . _ @ + - (not first)"
        )


def _account(row: models.Account) -> AccountInfo:
    return AccountInfo(row.id, row.username, row.disabled, row.created_at)


def _session(row: models.Session) -> SessionInfo:
    return SessionInfo(
        row.session_id,
        row.session_uid,
        row.organizer_id,
        row.password_hash,
        row.created_at,
        row.ended_at,
    )


def _record(row: models.EventRecord) -> EventRecord:
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
    )


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
            row = db.scalar(select(models.Account).where(models.Account.username == username))
            if row is None:
                raise AccountNotFound(f"no account is named {username!r}")
            row.disabled = disabled
            if disabled:
                db.execute(
                    delete(models.OrganizerToken).where(models.OrganizerToken.account_id == row.id)
                )

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        with self._db.begin() as db:
            db.execute(
                update(models.Account)
                .where(models.Account.id == account_id)
                .values(password_hash=password_hash)
            )

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
        with self._db.begin() as db:
            row = db.scalar(
                select(models.Account)
                .join(models.OrganizerToken)
                .where(
                    models.OrganizerToken.token_hash == token_hash,
                    models.OrganizerToken.expires_at > self.now(),
                )
            )
            return None if row is None else _account(row)

    # Sessions -------------------------------------------------------------------------

    def create_session(
        self,
        session_id: str,
        session_uid: bytes,
        organizer_id: int,
        password_hash: str | None,
        settings: dict[str, Any] | None = None,
    ) -> SessionInfo:
        """SessionIdTaken if a live session has ``session_id`` (the database decides)."""
        row = models.Session(
            session_id=session_id,
            session_uid=session_uid,
            organizer_id=organizer_id,
            password_hash=password_hash,
            created_at=self.now(),
            ended_at=None,
            settings=settings or {},
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
        self, since: datetime | None = None, organizer_id: int | None = None
    ) -> list[EventRecord]:
        """Records at or after ``since``, oldest first; only the sessions of
        ``organizer_id`` if given."""
        query = select(models.EventRecord).order_by(models.EventRecord.at, models.EventRecord.id)
        if since is not None:
            query = query.where(models.EventRecord.at >= since)
        if organizer_id is not None:
            query = query.where(
                exists().where(
                    models.Session.session_uid == models.EventRecord.session_uid,
                    models.Session.organizer_id == organizer_id,
                )
            )
        with self._db.begin() as db:
            return [_record(row) for row in db.scalars(query)]

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
        detail = f"locked={str(locked).lower()} by={by}"
        self.member_event(session_uid, RecordKind.LOCK, by, detail)

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
        """A record about a member that repeats its name and role (from its join
        record), so that it reads on its own."""
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
        role=None,
        at=at,
        bytes_in=0,
        bytes_out=0,
        detail=None,
    )
