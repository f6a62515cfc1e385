"""The broker's HTTPS API, as the client calls it (its OpenAPI document: /api/openapi.json)."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from relaydesk.errors import ApiError, ClientError


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


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    session_uid: bytes
    invite_url: str


class BrokerApi:
    def __init__(self, base_url: str, context: ssl.SSLContext, token: str = "") -> None:
        self.token = token
        self._http = httpx.AsyncClient(base_url=base_url, verify=context, timeout=30.0)

    async def __aenter__(self) -> BrokerApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = await self._http.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise ClientError(f"cannot reach the server: {error}") from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text
            if response.status_code == 429:
                retry = response.headers.get("Retry-After")
                detail += f" (try again in {retry} s)" if retry else ""
            raise ApiError(response.status_code, detail)
        if response.status_code == 204:
            return {}
        result: dict[str, Any] = response.json()
        return result

    async def login(self, username: str, password: str) -> str:
        answer = await self._post("/api/login", {"username": username, "password": password})
        self.token = str(answer["token"])
        return self.token

    async def create_session(
        self, session_id: str | None = None, password: str | None = None
    ) -> CreatedSession:
        answer = await self._post("/api/sessions", {"session_id": session_id, "password": password})
        return CreatedSession(
            str(answer["session_id"]),
            bytes.fromhex(answer["session_uid"]),
            str(answer["invite_url"]),
        )

    async def join(
        self,
        session_id: str,
        display_name: str,
        x25519: bytes,
        ed25519: bytes,
        password: str | None = None,
    ) -> JoinResult:
        answer = await self._post(
            f"/api/sessions/{session_id}/join",
            {
                "display_name": display_name,
                "password": password,
                "x25519": b64url(x25519),
                "ed25519": b64url(ed25519),
            },
        )
        return JoinResult(
            ticket=from_b64url(answer["ticket"]),
            member_id=int(answer["member_id"]),
            session_uid=bytes.fromhex(answer["session_uid"]),
            relay_url=str(answer["relay_url"]),
            broker_public_key=from_b64url(answer["broker_public_key"]),
        )

    async def end_session(self, session_id: str) -> None:
        await self._post(f"/api/sessions/{session_id}/end", {})
