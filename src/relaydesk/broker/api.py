"""The broker's HTTPS API: ``create_api(broker)`` gives the router the server mounts.

Endpoints are plain functions, so FastAPI runs them in its thread pool: an argon2id
check takes tens of milliseconds and must not stall the event loop the relay shares.
Every refusal is JSON ``{"detail": "..."}`` (a sentence for people), with ``Retry-After``
on 429. Nothing here logs a password, token, one-time code, secret, ticket or display
name.

Organizers authenticate with a bearer token (``POST /api/login``, for the CLI) or the
``relaydesk_token`` cookie (``POST /api/web/login``, for the browser). The cookie is
HttpOnly, Secure, SameSite=Strict and limited to ``/api``; on top of that, a request
authenticated by the cookie whose ``Origin`` is another site's is refused (403).

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
at run time, and ``Depends(organizer)`` names a closure only the real annotation can see.
"""

import math
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from relaydesk import __version__, limits
from relaydesk.broker.admin_api import add_admin_routes
from relaydesk.broker.records import RecordFilter
from relaydesk.broker.relay_api import add_relay_routes
from relaydesk.broker.schemas import (
    CreatedSessionAnswer,
    CreateSessionRequest,
    ErrorAnswer,
    JoinAnswer,
    JoinRequest,
    ListedSessionAnswer,
    LoginAnswer,
    LoginRequest,
    OneTimeCodeRequest,
    OrganizerAnswer,
    RecordAnswer,
    RecoveryCodesAnswer,
    RefreshRequest,
    RelayAnswer,
    ServerInfo,
    SessionSettingsAnswer,
    TotpEnrolmentAnswer,
    b64url,
    from_b64url,
)
from relaydesk.broker.service import Admission, Broker, OrganizerLogin, normalize_session_id
from relaydesk.broker.store import AccountInfo, SessionSettings
from relaydesk.errors import (
    AccountDisabled,
    AuthenticationFailed,
    BrokerError,
    ForeignOrigin,
    RateLimited,
)

MAX_PATH_SESSION_ID_CHARS = 32
COOKIE_NAME = "relaydesk_token"
COOKIE_PATH = "/api"
FOREIGN_ORIGIN = "This request comes from another site; it was refused."

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
_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    description="set by `POST /api/web/login` (HttpOnly, Secure, SameSite=Strict, Path=/api)",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
CookieToken = Annotated[str | None, Depends(_cookie)]
SessionId = Annotated[
    str, Path(max_length=MAX_PATH_SESSION_ID_CHARS, description="9 digits", examples=["123456789"])
]


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _origin(url: str) -> str:
    """``scheme://host[:port]`` in lowercase, without the scheme's default port."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return "invalid"
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def _settings_answer(settings: SessionSettings) -> SessionSettingsAnswer:
    return SessionSettingsAnswer(
        title=settings.title,
        listed=settings.listed,
        lobby=settings.lobby,
        two_party=settings.two_party,
        require_email=settings.require_email,
        join_before_host=settings.join_before_host,
    )


def _organizer_answer(login: OrganizerLogin) -> OrganizerAnswer:
    return OrganizerAnswer(
        username=login.account.username,
        expires_at=login.expires_at,
        totp_enabled=login.account.totp_enabled,
        is_admin=login.account.is_admin,
    )


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=limits.ORGANIZER_TOKEN_LIFETIME_SECONDS,
        path=COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict"
    )


class _Auth:
    """How the organizer endpoints find their organizer: the bearer token, else the login
    cookie, which only counts from pages of this server (``check_origin``)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.own_origin = _origin(broker.settings.public_url)

    def check_origin(self, request: Request) -> None:
        """Refuse a request from a page of another site: its Origin, when sent, must be
        this server's (its public URL, or the address the request was sent to)."""
        origin = request.headers.get("origin")
        if origin is None:
            return
        sent_to = _origin(f"{request.url.scheme}://{request.url.netloc}")
        if _origin(origin) not in (self.own_origin, sent_to):
            raise ForeignOrigin(FOREIGN_ORIGIN)

    def token(self, request: Request, credentials: Credentials, cookie: CookieToken) -> str:
        """The bearer token, else the login cookie; "" if neither."""
        if credentials is not None:
            return credentials.credentials
        if cookie:
            self.check_origin(request)
            return cookie
        return ""

    def organizer(
        self, request: Request, credentials: Credentials, cookie: CookieToken
    ) -> AccountInfo:
        return self.broker.authenticate(self.token(request, credentials, cookie))

    def admin(self, request: Request, credentials: Credentials, cookie: CookieToken) -> AccountInfo:
        """The site administrator of the request; 403 (AdminOnly) for an organizer."""
        return self.broker.administrator(self.token(request, credentials, cookie))

    def joining_token(
        self, request: Request, credentials: Credentials, cookie: CookieToken
    ) -> str | None:
        """For joining: the bearer token (a stale one is an error), else the cookie if
        it works. The browser sends the cookie on its own: one that no longer works
        makes this an ordinary join, not an error."""
        if credentials is not None:
            return credentials.credentials
        if not cookie:
            return None
        self.check_origin(request)
        try:
            self.broker.authenticate(cookie)
        except (AuthenticationFailed, AccountDisabled):
            return None
        return cookie


def create_api(broker: Broker) -> APIRouter:
    """The API under ``/api``; mount it at the application's root."""
    router = APIRouter(prefix="/api", route_class=BrokerRoute)
    auth = _Auth(broker)
    _login_routes(router, broker, auth)
    _totp_routes(router, broker, auth)
    _session_routes(router, broker, auth)
    _record_routes(router, broker, auth)
    add_admin_routes(router, broker, auth.admin, _address)
    add_relay_routes(router, broker)
    return router


def _join_answer(admission: Admission) -> JoinAnswer:
    return JoinAnswer(
        ticket=b64url(admission.ticket),
        member_id=admission.member_id,
        role=admission.role.name.lower(),
        session_uid=admission.session_uid.hex(),
        relay_url=admission.relay_url,
        relays=[
            RelayAnswer(
                name=relay.name,
                wss_url=relay.wss_url,
                tcp_address=relay.tcp_address,
                fingerprint=relay.fingerprint,
            )
            for relay in admission.relays
        ],
        broker_public_key=b64url(admission.broker_public_key),
        expires_at=admission.expires_at,
        waits_in_lobby=admission.waits_in_lobby,
        title=admission.title,
    )


def _login_routes(router: APIRouter, broker: Broker, auth: _Auth) -> None:
    @router.post(
        "/login",
        tags=["organizers"],
        summary="Log in as an organizer",
        description="Gives a bearer token for the organizer endpoints, valid for 12 hours. "
        "An account with two-step login also needs `one_time_code`: without it, 401 "
        '"This account needs its one-time code."; a wrong or replayed one counts as a '
        "failed login. Throttled per client address and, for failed attempts, per username.",
        responses=_errors(401, 403, 429),
    )
    def login(body: LoginRequest, request: Request) -> LoginAnswer:
        issued = broker.login(body.username, body.password, _address(request), body.one_time_code)
        return LoginAnswer(token=issued.token, expires_at=issued.expires_at)

    @router.post(
        "/web/login",
        tags=["organizers"],
        summary="Log in as an organizer, in a browser",
        description="Like `POST /api/login`, but the token goes into the `relaydesk_token` "
        "cookie (HttpOnly, Secure, SameSite=Strict, Path=/api, for 12 hours) instead of "
        "the answer, so that page scripts never see it. Refused (403) from a page of "
        "another site.",
        responses=_errors(401, 403, 429),
    )
    def web_login(body: LoginRequest, request: Request, response: Response) -> OrganizerAnswer:
        auth.check_origin(request)
        issued = broker.login(body.username, body.password, _address(request), body.one_time_code)
        _set_cookie(response, issued.token)
        return _organizer_answer(broker.organizer_login(issued.token))

    @router.post(
        "/web/logout",
        tags=["organizers"],
        summary="Log out",
        description="Ends the login of the cookie (or bearer token) at once and clears the "
        "cookie. Answers 204 also when there was no valid login.",
        status_code=204,
        response_class=Response,
        responses=_errors(403),
    )
    def web_logout(token: Annotated[str, Depends(auth.token)]) -> Response:
        broker.logout(token)
        response = Response(status_code=204)
        _clear_cookie(response)
        return response

    @router.get(
        "/me",
        tags=["organizers"],
        summary="Who is logged in",
        description="The organizer of the cookie or bearer token, when the login expires, "
        "and whether two-step login is on; 401 when not logged in.",
        responses=_errors(401, 403),
    )
    def me(token: Annotated[str, Depends(auth.token)]) -> OrganizerAnswer:
        return _organizer_answer(broker.organizer_login(token))


def _totp_routes(router: APIRouter, broker: Broker, auth: _Auth) -> None:
    @router.post(
        "/me/totp",
        tags=["organizers"],
        summary="Begin turning on two-step login",
        description="A new TOTP secret (SHA-1, 6 digits, 30 s) for an authenticator app, "
        "as text, as an otpauth:// URI and as a QR code (SVG). Two-step login is on once "
        "`POST /api/me/totp/confirm` gets a code of it; until then, logins need no code. "
        "409 if it is on already.",
        responses=_errors(401, 403, 409),
    )
    def totp_begin(account: Annotated[AccountInfo, Depends(auth.organizer)]) -> TotpEnrolmentAnswer:
        enrolment = broker.start_totp(account)
        return TotpEnrolmentAnswer(
            secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
        )

    @router.post(
        "/me/totp/confirm",
        tags=["organizers"],
        summary="Turn on two-step login",
        description="With a current code of the secret from `POST /api/me/totp`. Answers "
        "10 recovery codes, each good for one login in place of a one-time code: they are "
        "shown this once. A wrong code is 400 and counts as a failed login.",
        responses=_errors(400, 401, 403, 409, 429),
    )
    def totp_confirm(
        body: OneTimeCodeRequest, account: Annotated[AccountInfo, Depends(auth.organizer)]
    ) -> RecoveryCodesAnswer:
        return RecoveryCodesAnswer(recovery_codes=broker.confirm_totp(account, body.code))

    @router.post(
        "/me/totp/disable",
        tags=["organizers"],
        summary="Turn off two-step login",
        description="With a current one-time code or a recovery code; the recovery codes "
        "are removed. A wrong code is 400 and counts as a failed login. (An administrator "
        "can also turn it off: `relaydesk admin user totp-reset NAME`.)",
        status_code=204,
        response_class=Response,
        responses=_errors(400, 401, 403, 409, 429),
    )
    def totp_disable(
        body: OneTimeCodeRequest, account: Annotated[AccountInfo, Depends(auth.organizer)]
    ) -> Response:
        broker.disable_totp(account, body.code)
        return Response(status_code=204)


def _session_routes(router: APIRouter, broker: Broker, auth: _Auth) -> None:
    @router.post(
        "/sessions",
        tags=["organizers"],
        summary="Create a session",
        description="A new live session with a random 9-digit ID, or the one asked for "
        "(409 if a live session has it). With a password, joining needs it. The settings "
        "(title, listed, lobby, two-party, e-mail asked, join before host) are fixed for "
        "the session's life and come back in the answer.",
        status_code=201,
        responses=_errors(400, 401, 403, 409),
    )
    def create_session(
        body: CreateSessionRequest, account: Annotated[AccountInfo, Depends(auth.organizer)]
    ) -> CreatedSessionAnswer:
        created = broker.create_session(
            account,
            body.session_id,
            body.password,
            title=body.title,
            listed=body.listed,
            lobby=body.lobby,
            two_party=body.two_party,
            require_email=body.require_email,
            join_before_host=body.join_before_host,
        )
        return CreatedSessionAnswer(
            session_id=created.session_id,
            session_uid=created.session_uid.hex(),
            invite_url=created.invite_url,
            settings=_settings_answer(created.settings),
        )

    @router.get(
        "/sessions/listed",
        tags=["joining"],
        summary="Listed sessions",
        description="Live sessions whose organizers chose to list them: ID, title and the "
        "organizer's username, oldest first (at most 200). No login needed; unlisted "
        "sessions never appear. Joining still needs the session's password, if it has one.",
    )
    def listed_sessions() -> list[ListedSessionAnswer]:
        return [
            ListedSessionAnswer(session_id=listed.session_id, title=listed.title, host=listed.host)
            for listed in broker.listed_sessions()
        ]

    @router.post(
        "/sessions/{session_id}/join",
        tags=["joining"],
        summary="Join a session",
        description="Gives a ticket signed by the broker, to present to the relay within "
        "5 minutes. No account needed; with the organizer's bearer token or login cookie, "
        "the organizer joins as host. A wrong ID and a wrong password get the same 403. "
        "Then, in this order: 400 if the session asks for an e-mail address and none (or "
        "no plausible one) was given; 403 if a host locked the meeting; 409 if it is a "
        "two-party session that has had both parties. Throttled per client address and "
        "per session ID; too many failures lock the ID for a while. 503 when relays are "
        "registered and none is live.",
        responses=_errors(400, 401, 403, 409, 429, 503),
    )
    def join(
        session_id: SessionId,
        body: JoinRequest,
        request: Request,
        token: Annotated[str | None, Depends(auth.joining_token)],
    ) -> JoinAnswer:
        admission = broker.join(
            session_id,
            body.display_name,
            from_b64url(body.agreement),
            from_b64url(body.ed25519),
            address=_address(request),
            password=body.password,
            token=token,
            email=body.email,
        )
        return _join_answer(admission)

    @router.post(
        "/sessions/{session_id}/refresh",
        tags=["joining"],
        summary="Refresh a ticket",
        description="A fresh ticket for a member of a live session, with the same member "
        "id, name, e-mail address, role and keys (docs/protocol.md §7.3): the ticket it "
        "holds (signed by this broker for this session; expired is fine) and a signature "
        "by that ticket's own Ed25519 key over the ticket and a current timestamp. With "
        "`failed_relay`, the relay that dropped the member: a home no longer live is "
        "replaced by another. 403 for anything that does not prove the member; 503 when "
        "relays are registered and none is live. Throttled like joining.",
        responses=_errors(403, 429, 503),
    )
    def refresh(session_id: SessionId, body: RefreshRequest, request: Request) -> JoinAnswer:
        admission = broker.refresh(
            session_id,
            from_b64url(body.ticket),
            body.timestamp,
            from_b64url(body.signature),
            address=_address(request),
            failed_relay=body.failed_relay,
        )
        return _join_answer(admission)

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
        session_id: SessionId, account: Annotated[AccountInfo, Depends(auth.organizer)]
    ) -> Response:
        broker.end_session(account, session_id)
        return Response(status_code=204)


def _record_routes(router: APIRouter, broker: Broker, auth: _Auth) -> None:
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
        description="Session start and end, members joining and leaving with display name, "
        "role and e-mail address, bytes each moved, consent, grants and the meeting "
        "controls; metadata only. Oldest first. Only your own sessions' (a site "
        "administrator sees every session's at `GET /api/admin/records`).",
        responses=_errors(400, 401, 403),
    )
    def records(
        account: Annotated[AccountInfo, Depends(auth.organizer)],
        since: Annotated[
            datetime | None,
            Query(description="ISO 8601; only records at or after it (UTC if no zone)"),
        ] = None,
        until: Annotated[
            datetime | None,
            Query(alias="to", description="ISO 8601; only records before it (UTC if no zone)"),
        ] = None,
        session_id: Annotated[
            str | None, Query(max_length=MAX_PATH_SESSION_ID_CHARS, description="9 digits")
        ] = None,
    ) -> list[RecordAnswer]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        wanted = None
        if session_id is not None:
            wanted = normalize_session_id(session_id)
            if wanted is None:
                raise BrokerError("A session ID has 9 digits and does not start with 0.")
        where = RecordFilter(session_id=wanted, until=until)
        return [
            RecordAnswer(
                session_id=record.session_id,
                session_uid=record.session_uid.hex(),
                kind=record.kind.value,
                member_id=record.member_id,
                display_name=record.display_name,
                email=record.email,
                role=record.role,
                at=record.at,
                bytes_in=record.bytes_in,
                bytes_out=record.bytes_out,
                detail=record.detail,
                organizer=record.organizer,
            )
            for record in broker.records(account, since, where)
        ]
