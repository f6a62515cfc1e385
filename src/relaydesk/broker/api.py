"""The broker's HTTPS API: ``create_api(broker)`` gives the router the server mounts.

Endpoints are plain functions, so FastAPI runs them in its thread pool: an argon2id
check takes tens of milliseconds and must not stall the event loop the relay shares.
Every refusal is JSON ``{"detail": "..."}`` (a sentence for people), with ``Retry-After``
on 429. Nothing here logs a password, token, ticket or display name.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
at run time, and ``Depends(organizer)`` names a closure only the real annotation can see.
"""

import math
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from relaydesk import __version__
from relaydesk.broker.schemas import (
    CreatedSessionAnswer,
    CreateSessionRequest,
    ErrorAnswer,
    JoinAnswer,
    JoinRequest,
    LoginAnswer,
    LoginRequest,
    RecordAnswer,
    ServerInfo,
    b64url,
    from_b64url,
)
from relaydesk.broker.service import Broker
from relaydesk.broker.store import AccountInfo
from relaydesk.errors import BrokerError, RateLimited

MAX_PATH_SESSION_ID_CHARS = 32

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _validation_detail(error: RequestValidationError) -> str:
    """pydantic's error list as one sentence, without echoing the input (a password
    sent in the wrong place must not come back in an error)."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        message = str(item.get("msg", "is not valid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "Invalid request: " + "; ".join(parts) + "."


class BrokerRoute(APIRoute):
    """Turns the broker's errors into JSON answers, and keeps answers out of caches
    (they carry tokens and tickets)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except RateLimited as error:
                retry_after = str(max(1, math.ceil(error.retry_after)))
                response = _error(error.status, str(error), {"Retry-After": retry_after})
            except BrokerError as error:
                response = _error(error.status, str(error))
            except RequestValidationError as error:
                response = _error(422, _validation_detail(error))
            response.headers["Cache-Control"] = "no-store"
            return response

        return handle


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorAnswer} for status in (*statuses, 422)}


_bearer = HTTPBearer(auto_error=False, description="the token from `POST /api/login`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
SessionId = Annotated[
    str, Path(max_length=MAX_PATH_SESSION_ID_CHARS, description="9 digits", examples=["123456789"])
]


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def create_api(broker: Broker) -> APIRouter:
    """The API under ``/api``; mount it at the application's root."""
    router = APIRouter(prefix="/api", route_class=BrokerRoute)

    def organizer(credentials: Credentials) -> AccountInfo:
        return broker.authenticate(credentials.credentials if credentials else "")

    @router.post(
        "/login",
        tags=["organizers"],
        summary="Log in as an organizer",
        description="Gives a bearer token for the organizer endpoints, valid for 12 hours. "
        "Throttled per client address and, for failed attempts, per username.",
        responses=_errors(401, 403, 429),
    )
    def login(body: LoginRequest, request: Request) -> LoginAnswer:
        issued = broker.login(body.username, body.password, _address(request))
        return LoginAnswer(token=issued.token, expires_at=issued.expires_at)

    @router.post(
        "/sessions",
        tags=["organizers"],
        summary="Create a session",
        description="A new live session with a random 9-digit ID, or the one asked for "
        "(409 if a live session has it). With a password, joining needs it.",
        status_code=201,
        responses=_errors(400, 401, 403, 409),
    )
    def create_session(
        body: CreateSessionRequest, account: Annotated[AccountInfo, Depends(organizer)]
    ) -> CreatedSessionAnswer:
        created = broker.create_session(account, body.session_id, body.password)
        return CreatedSessionAnswer(
            session_id=created.session_id,
            session_uid=created.session_uid.hex(),
            invite_url=created.invite_url,
        )

    @router.post(
        "/sessions/{session_id}/join",
        tags=["joining"],
        summary="Join a session",
        description="Gives a ticket signed by the broker, to present to the relay within "
        "5 minutes. No account needed; with the organizer's bearer token, the organizer "
        "joins as host. A wrong ID and a wrong password get the same 403. Throttled per "
        "client address and per session ID; too many failures lock the ID for a while.",
        responses=_errors(400, 401, 403, 409, 429),
    )
    def join(
        session_id: SessionId, body: JoinRequest, request: Request, credentials: Credentials
    ) -> JoinAnswer:
        admission = broker.join(
            session_id,
            body.display_name,
            from_b64url(body.x25519),
            from_b64url(body.ed25519),
            address=_address(request),
            password=body.password,
            token=credentials.credentials if credentials else None,
        )
        return JoinAnswer(
            ticket=b64url(admission.ticket),
            member_id=admission.member_id,
            role=admission.role.name.lower(),
            session_uid=admission.session_uid.hex(),
            relay_url=admission.relay_url,
            broker_public_key=b64url(admission.broker_public_key),
            expires_at=admission.expires_at,
        )

    @router.post(
        "/sessions/{session_id}/end",
        tags=["organizers"],
        summary="End a session",
        description="Only its organizer can; everyone connected is disconnected and the "
        "ID refuses joins from then on.",
        status_code=204,
        response_class=Response,
        responses=_errors(401, 403, 404),
    )
    def end_session(
        session_id: SessionId, account: Annotated[AccountInfo, Depends(organizer)]
    ) -> Response:
        broker.end_session(account, session_id)
        return Response(status_code=204)

    @router.get(
        "/server",
        tags=["server"],
        summary="About this server",
        description="The version and the broker's public key, which checks every ticket.",
    )
    def server_info() -> ServerInfo:
        return ServerInfo(version=__version__, broker_public_key=b64url(broker.public_key))

    @router.get(
        "/records",
        tags=["records"],
        summary="Event records of your sessions",
        description="Session start and end, members joining and leaving with display name "
        "and role, and bytes each moved; metadata only. Oldest first.",
        responses=_errors(401, 403),
    )
    def records(
        account: Annotated[AccountInfo, Depends(organizer)],
        since: Annotated[
            datetime | None,
            Query(description="ISO 8601; only records at or after it (UTC if no zone)"),
        ] = None,
    ) -> list[RecordAnswer]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return [
            RecordAnswer(
                session_id=record.session_id,
                session_uid=record.session_uid.hex(),
                kind=record.kind.value,
                member_id=record.member_id,
                display_name=record.display_name,
                role=record.role,
                at=record.at,
                bytes_in=record.bytes_in,
                bytes_out=record.bytes_out,
                detail=record.detail,
            )
            for record in broker.records(account, since)
        ]

    return router
