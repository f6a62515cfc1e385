"""Where sessions live: the relays a broker places sessions on (docs/protocol.md §7, §11).

The embedded server has one built-in relay, ``embedded``, in the same process: while no
relay is registered, every session is placed there. Once the operator registers relays
(``relaydesk admin relay add``), a session's home is the live relay with the fewest
connections when its first ticket is issued, and again when that home goes silent.

Every write that replicas could race on is one compare-and-set UPDATE: a relay's report
counter (``accept_counter``) and a session's placement (``place``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import CursorResult, Delete, Update, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from relaydesk import limits
from relaydesk.broker import models
from relaydesk.broker.store import Store
from relaydesk.errors import (
    BrokerError,
    NoRelayAvailable,
    RelayExists,
    RelayNotRegistered,
)
from relaydesk.relay.hub import is_relay_name
from relaydesk.relay.identity import REPORT_CONTEXT

log = logging.getLogger(__name__)

EMBEDDED_RELAY = "embedded"
RELAY_KEY_BYTES = models.RELAY_KEY_BYTES
MAX_PLACEMENT_TRIES = 5  # compare-and-set rounds before giving up (replicas racing)
ORIGINS_CACHE_SECONDS = 1.0
NO_RELAY = "No relay is available right now; try again in a moment."


@dataclass(slots=True)
class LocalRelay:
    """A relay as members are told about it in a join answer.

    Mutable on purpose: the embedded server learns its direct TLS address and certificate
    fingerprint only once it listens, after the broker exists.
    """

    name: str
    wss_url: str
    tcp_address: str | None = None  # "host:port" of its direct TLS transport, if any
    fingerprint: str = ""  # hex SHA-256 of its TLS certificate (DER)

    def as_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "wss_url": self.wss_url,
            "tcp_address": self.tcp_address,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class RelayInfo:
    """A registered relay and what its last heartbeat said (nothing before the first)."""

    name: str
    public_key: bytes
    added_at: datetime
    wss_url: str | None
    tcp_address: str | None
    fingerprint: str | None
    connections: int
    last_seen: datetime | None

    def live(self, now: datetime, suspect: str | None = None) -> bool:
        """Heard from within RELAY_DEAD_SECONDS, with an address members can reach. The
        relay a member says dropped it (``suspect``) must have been heard from within
        RELAY_SUSPECT_SECONDS: a relay that missed a heartbeat and loses members is
        taken for dead at once, so they fail over sooner."""
        silence = (
            limits.RELAY_SUSPECT_SECONDS if self.name == suspect else limits.RELAY_DEAD_SECONDS
        )
        return (
            self.last_seen is not None
            and self.wss_url is not None
            and now - self.last_seen <= timedelta(seconds=silence)
        )

    def address(self) -> LocalRelay:
        return LocalRelay(self.name, self.wss_url or "", self.tcp_address, self.fingerprint or "")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a relay reports about itself, every RELAY_HEARTBEAT_SECONDS."""

    wss_url: str
    tcp_address: str | None
    fingerprint: str
    connections: int


@dataclass(frozen=True, slots=True)
class Home:
    """Where a session lives: its home relay first, then the others members may use."""

    relays: tuple[LocalRelay, ...]
    placement: int

    @property
    def relay(self) -> LocalRelay:
        return self.relays[0]


def parse_relay_key(text: str) -> bytes:
    """The text ``relaydesk relay key`` prints (base64url of the raw Ed25519 public key)."""
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise BrokerError(
            "a relay key is what `relaydesk relay key --data DIR` prints: 43 characters"
        ) from None
    return raw


def check_relay_name(name: str) -> None:
    if not is_relay_name(name) or name == EMBEDDED_RELAY:
        raise BrokerError(
            f"a relay name has 1 to {limits.MAX_RELAY_NAME_CHARS} of a-z, 0-9 and '-' "
            f"(and is not {EMBEDDED_RELAY!r})"
        )


def changed_rows(db: DbSession, statement: Update | Delete) -> int:
    result = db.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def _info(row: models.Relay) -> RelayInfo:
    return RelayInfo(
        row.name,
        row.public_key,
        row.added_at,
        row.wss_url,
        row.tcp_address,
        row.fingerprint,
        row.connections,
        row.last_seen,
    )


class RelayRegistry:
    """The registered relays, their heartbeats and the sessions' homes, in the broker's
    database (several broker replicas share it)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._db = sessionmaker(store.engine, expire_on_commit=False)
        self._origins: list[str] = []
        self._origins_at = -ORIGINS_CACHE_SECONDS

    # The operator's registry ------------------------------------------------------

    def add(self, name: str, key_text: str) -> RelayInfo:
        check_relay_name(name)
        row = models.Relay(
            name=name,
            public_key=parse_relay_key(key_text),
            added_at=self.store.now(),
            last_counter=0,
            connections=0,
        )
        try:
            with self._db.begin() as db:
                db.add(row)
        except IntegrityError:
            raise RelayExists(f"a relay named {name!r} or with that key is registered") from None
        log.info("relay %s registered", name)
        return _info(row)

    def remove(self, name: str) -> None:
        """Unregister a relay: its reports are refused from now on and it gets no new
        sessions; sessions placed on it move when their members refresh."""
        with self._db.begin() as db:
            if not changed_rows(db, delete(models.Relay).where(models.Relay.name == name)):
                raise RelayNotRegistered(f"no relay is registered as {name!r}")
        log.info("relay %s removed", name)

    def relays(self) -> list[RelayInfo]:
        with self._db.begin() as db:
            return [_info(row) for row in db.scalars(select(models.Relay).order_by("name"))]

    def get(self, name: str) -> RelayInfo | None:
        with self._db.begin() as db:
            row = db.get(models.Relay, name)
            return None if row is None else _info(row)

    def live(self) -> list[RelayInfo]:
        """Live relays, least loaded first (ties: by name)."""
        now = self.store.now()
        alive = [relay for relay in self.relays() if relay.live(now)]
        return sorted(alive, key=lambda relay: (relay.connections, relay.name))

    def origins(self) -> list[str]:
        """The ``wss://host[:port]`` origins of registered relays (the browser's CSP),
        read at most once every ORIGINS_CACHE_SECONDS: every web answer asks."""
        now = time.monotonic()
        if now - self._origins_at >= ORIGINS_CACHE_SECONDS:
            self._origins = self._read_origins()
            self._origins_at = now
        return self._origins

    def _read_origins(self) -> list[str]:
        found = []
        for relay in self.relays():
            if relay.wss_url and relay.wss_url.startswith("wss://"):
                found.append("wss://" + relay.wss_url.removeprefix("wss://").split("/", 1)[0])
        return sorted(set(found))

    # Signed reports ---------------------------------------------------------------

    def verify(self, name: str, signature: bytes, body: bytes) -> bool:
        """Is ``signature`` the registered relay ``name``'s over REPORT_CONTEXT + body?"""
        relay = self.get(name) if is_relay_name(name) else None
        if relay is None:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(relay.public_key).verify(
                signature, REPORT_CONTEXT + body
            )
        except InvalidSignature:
            return False
        return True

    def accept_counter(self, name: str, counter: int, beat: Heartbeat | None = None) -> bool:
        """Raise the relay's counter to ``counter`` (and store ``beat``); False if the
        counter is not above the last one accepted: a replay. One UPDATE, so two
        replicas given the same request accept it once between them."""
        values: dict[str, object] = {"last_counter": counter}
        if beat is not None:
            values |= {
                "wss_url": beat.wss_url,
                "tcp_address": beat.tcp_address,
                "fingerprint": beat.fingerprint,
                "connections": beat.connections,
                "last_seen": self.store.now(),
            }
        with self._db.begin() as db:
            return (
                changed_rows(
                    db,
                    update(models.Relay)
                    .where(models.Relay.name == name, models.Relay.last_counter < counter)
                    .values(**values),
                )
                == 1
            )

    def sessions_homed_on(self, name: str, uids: Iterable[bytes]) -> set[bytes]:
        """Those of ``uids`` whose home is the relay ``name``."""
        return self._filter_sessions(uids, models.Session.relay == name)

    def ended_sessions(self, uids: Iterable[bytes]) -> set[bytes]:
        """Those of ``uids`` that the broker has ended."""
        return self._filter_sessions(uids, models.Session.ended_at.is_not(None))

    def _filter_sessions(self, uids: Iterable[bytes], condition: object) -> set[bytes]:
        wanted = list(dict.fromkeys(uids))
        found: set[bytes] = set()
        with self._db.begin() as db:
            for start in range(0, len(wanted), 500):  # well below any database's bound
                chunk = wanted[start : start + 500]
                found.update(
                    db.scalars(
                        select(models.Session.session_uid).where(
                            models.Session.session_uid.in_(chunk),
                            condition,  # type: ignore[arg-type]
                        )
                    )
                )
        return found

    # Placement --------------------------------------------------------------------

    def home(self, session_uid: bytes, fallback: LocalRelay, suspect: str | None = None) -> Home:
        """The session's home, placing it when it has none or its home is not live: the
        live relay with the fewest connections. Without registered relays, ``fallback``
        (the embedded relay). NoRelayAvailable if relays are registered but none is live.
        ``suspect``: a relay a member reports failed (see ``RelayInfo.live``).
        """
        for _ in range(MAX_PLACEMENT_TRIES):
            registered = self.relays()
            if not registered:
                return Home((fallback,), 0)
            now = self.store.now()
            live = sorted(
                (relay for relay in registered if relay.live(now, suspect)),
                key=lambda relay: (relay.connections, relay.name),
            )
            if not live:
                log.warning("no live relay to place session %s on", session_uid.hex())
                raise NoRelayAvailable(NO_RELAY)
            current = self._placement(session_uid)
            if current is None:
                raise NoRelayAvailable(NO_RELAY)  # the session row is gone
            home_name, placement = current
            home = next((relay for relay in live if relay.name == home_name), None)
            if home is None:
                home = live[0]
                if not self._place(session_uid, home_name, placement, home.name):
                    continue  # another replica placed it meanwhile: read again
                if home_name is not None:
                    placement += 1
                    log.info("session %s moved from %s to %s", session_uid.hex(), home_name,
                             home.name)  # fmt: skip
            others = [relay.address() for relay in live if relay.name != home.name]
            return Home((home.address(), *others), placement)
        raise NoRelayAvailable(NO_RELAY)

    def _placement(self, session_uid: bytes) -> tuple[str | None, int] | None:
        with self._db.begin() as db:
            row = db.execute(
                select(models.Session.relay, models.Session.placement).where(
                    models.Session.session_uid == session_uid
                )
            ).first()
            return None if row is None else (row[0], row[1])

    def _place(self, session_uid: bytes, old: str | None, placement: int, new: str) -> bool:
        """First placement keeps placement 0; a move adds one. Compare-and-set on both."""
        where = [models.Session.session_uid == session_uid, models.Session.placement == placement]
        if old is None:
            where.append(models.Session.relay.is_(None))
            values: dict[str, object] = {"relay": new}
        else:
            where.append(models.Session.relay == old)
            values = {"relay": new, "placement": models.Session.placement + 1}
        with self._db.begin() as db:
            if changed_rows(db, update(models.Session).where(*where).values(**values)) != 1:
                return False
            # Counted at once, until the relay's next heartbeat says the truth: a burst of
            # new sessions within one heartbeat spreads over the relays instead of piling
            # onto the one that looked idlest.
            db.execute(
                update(models.Relay)
                .where(models.Relay.name == new)
                .values(connections=models.Relay.connections + 1)
            )
            return True
