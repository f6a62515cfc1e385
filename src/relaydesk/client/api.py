"""The broker's HTTPS API, as the client calls it (its OpenAPI document: /api/openapi.json)."""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaydesk.errors import ApiError, ClientError, OneTimeCodeRequired
from relaydesk.protocol.tickets import refresh_message

# What the broker answers (401) when the password was right but the account has two-step
# login and no one-time code came with it.
ONE_TIME_CODE_NEEDED = "This account needs its one-time code."
# ... and (401) to a join without a login, when the site admits only people with an
# account (site policy: restricted_access).
ACCOUNT_NEEDED_MARK = "restricted_access"


def needs_one_time_code(error: BaseException) -> bool:
    """Is this the broker asking for the account's one-time code?"""
    return isinstance(error, OneTimeCodeRequired)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class JoinResult:
    ticket: bytes
    member_id: int
    session_uid: bytes
    relay_url: str
    broker_public_key: bytes
    waits_in_lobby: bool = False  # a host must admit this member first
    title: str | None = None  # the session's title, if it has one
    relays: tuple[RelayAddress, ...] = ()  # where to connect: the home relay first


@dataclass(frozen=True)
class RelayAddress:
    """One relay of a join answer: its name, both transports and its TLS pin."""

    name: str
    wss_url: str
    tcp_address: str | None  # "host:port" of its direct TLS port, if it has one
    fingerprint: str  # hex SHA-256 of its certificate (DER); "" when not given


def join_result(answer: dict[str, Any]) -> JoinResult:
    """A join (or refresh) answer's JSON as the client uses it."""
    relays = answer.get("relays") or []
    return JoinResult(
        ticket=from_b64url(answer["ticket"]),
        member_id=int(answer["member_id"]),
        session_uid=bytes.fromhex(answer["session_uid"]),
        relay_url=str(answer["relay_url"]),
        broker_public_key=from_b64url(answer["broker_public_key"]),
        waits_in_lobby=bool(answer.get("waits_in_lobby", False)),
        title=None if answer.get("title") is None else str(answer["title"]),
        relays=tuple(
            RelayAddress(
                name=str(relay["name"]),
                wss_url=str(relay["wss_url"]),
                tcp_address=None if relay.get("tcp_address") is None else str(relay["tcp_address"]),
                fingerprint=str(relay.get("fingerprint") or ""),
            )
            for relay in relays
        ),
    )


@dataclass(frozen=True)
class SessionSettings:
    """A new session's settings, as ``POST /api/sessions`` takes them (the defaults are
    the broker's; docs/meetings.md)."""

    title: str | None = None
    listed: bool = False
    lobby: bool = False
    two_party: bool = False
    require_email: bool = False
    join_before_host: bool = True


DEFAULT_SETTINGS = SessionSettings()
SETTING_SWITCHES = tuple(f.name for f in fields(SessionSettings) if f.name != "title")


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    session_uid: bytes
    invite_url: str
    settings: SessionSettings = field(default_factory=SessionSettings)


@dataclass(frozen=True)
class ListedSession:
    session_id: str
    title: str | None
    host: str  # the organizer's username


class BrokerApi:
    def __init__(
        self,
        base_url: str,
        context: ssl.SSLContext,
        token: str = "",
        *,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: the app in process
    ) -> None:
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=base_url, verify=context, timeout=30.0, transport=transport
        )

    async def __aenter__(self) -> BrokerApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach the server: {error}") from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except (ValueError, AttributeError):
                detail = response.text
            if response.status_code == 429:
                retry = response.headers.get("Retry-After")
                detail += f" (try again in {retry} s)" if retry else ""
            if response.status_code == 401 and detail == ONE_TIME_CODE_NEEDED:
                raise OneTimeCodeRequired(response.status_code, detail)
            raise ApiError(response.status_code, detail)
        if response.status_code == 204:
            return {}
        return response.json()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("POST", path, body)
        return result

    async def login(self, username: str, password: str, one_time_code: str | None = None) -> str:
        """Log in; OneTimeCodeRequired (an ApiError) if the account has two-step login
        and ``one_time_code`` was not given."""
        body = {"username": username, "password": password}
        if one_time_code is not None:
            body["one_time_code"] = one_time_code
        answer = await self._post("/api/login", body)
        self.token = str(answer["token"])
        return self.token

    async def create_session(
        self,
        session_id: str | None = None,
        password: str | None = None,
        settings: SessionSettings = DEFAULT_SETTINGS,
    ) -> CreatedSession:
        answer = await self._post(
            "/api/sessions", {"session_id": session_id, "password": password, **asdict(settings)}
        )
        chosen = answer.get("settings") or {}
        return CreatedSession(
            str(answer["session_id"]),
            bytes.fromhex(answer["session_uid"]),
            str(answer["invite_url"]),
            SessionSettings(
                title=chosen.get("title"),
                **{
                    name: bool(chosen.get(name, getattr(settings, name)))
                    for name in SETTING_SWITCHES
                },
            ),
        )

    async def listed_sessions(self) -> list[ListedSession]:
        """The live sessions their organizers chose to list (no login needed)."""
        answer = await self._request("GET", "/api/sessions/listed", None)
        return [
            ListedSession(
                str(item["session_id"]),
                None if item.get("title") is None else str(item["title"]),
                str(item["host"]),
            )
            for item in answer
        ]

    async def join(
        self,
        session_id: str,
        display_name: str,
        agreement: bytes,
        ed25519: bytes,
        password: str | None = None,
        email: str | None = None,
    ) -> JoinResult:
        body = {
            "display_name": display_name,
            "password": password,
            "agreement": b64url(agreement),
            "ed25519": b64url(ed25519),
        }
        if email is not None:
            body["email"] = email
        answer = await self._post(f"/api/sessions/{session_id}/join", body)
        return join_result(answer)

    async def refresh_ticket(
        self,
        session_id: str,
        ticket: bytes,
        signing_key: Ed25519PrivateKey,
        failed_relay: str | None = None,
        now: float | None = None,
    ) -> JoinResult:
        """A fresh ticket for the same member (spec: POST /api/sessions/{id}/refresh),
        proven by the ticket's own Ed25519 key; ``failed_relay`` names a relay that
        dropped this member, so the broker may move the session off it."""
        timestamp = int(time.time() if now is None else now)
        signature = signing_key.sign(refresh_message(ticket, timestamp))
        body = {
            "ticket": b64url(ticket),
            "timestamp": timestamp,
            "signature": b64url(signature),
            "failed_relay": failed_relay,
        }
        answer = await self._post(f"/api/sessions/{session_id}/refresh", body)
        return join_result(answer)

    async def end_session(self, session_id: str) -> None:
        await self._post(f"/api/sessions/{session_id}/end", {})

    async def policy(self) -> dict[str, Any]:
        """The site policy (``GET /api/policy``, no login needed); {} from a server
        without one."""
        try:
            answer = await self._request("GET", "/api/policy", None)
        except ApiError as error:
            if error.status == 404:
                return {}
            raise
        return dict(answer)

    async def ask_password_reset(self, username: str) -> str:
        """Ask for a reset of ``username``'s password: the broker's sentence (the same
        whether or not the account exists)."""
        answer = await self._post("/api/password-resets", {"username": username})
        return str(answer.get("detail", ""))

    async def reset_password(self, username: str, code: str, new_password: str) -> None:
        """Set a new password with a reset code (or a one-time code, where allowed)."""
        await self._post(
            "/api/password-resets/complete",
            {"username": username, "code": code, "new_password": new_password},
        )


Refresher = Callable[[bytes, str | None], Awaitable[JoinResult]]
"""A fresh join answer for a member, from (its ticket now, the relay that dropped it or
None); docs/protocol.md §7.3. ``ApiError`` 4xx (but 429) is a final refusal."""


def broker_refresher(
    url: str, context: ssl.SSLContext, session_id: str, signing_key: Ed25519PrivateKey
) -> Refresher:
    """How a member gets a fresh ticket from its broker after its link dropped."""

    async def refresh(ticket: bytes, failed_relay: str | None) -> JoinResult:
        async with BrokerApi(url, context) as api:
            return await api.refresh_ticket(session_id, ticket, signing_key, failed_relay)

    return refresh
