"""The embedded server's web application: the broker's API and the browser client. The
relay's WebSocket endpoint (``/relay``) shares their port, served below the application
by the relay's own driver (server/serving.py, relay/endpoint.py)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from relaydesk import __version__
from relaydesk.broker.api import create_api
from relaydesk.broker.service import Broker
from relaydesk.ops.headers import BASE_HEADERS, HeaderSource
from relaydesk.web import STATIC_DIR

# The web client loads nothing from anywhere else and runs no inline script. The same
# headers go with every answer of the broker and the embedded server (ops/headers.py).
WEB_HEADERS: Mapping[str, str] = {
    **BASE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def web_headers(relay_origins: list[str]) -> Mapping[str, str]:
    """WEB_HEADERS with the registered relays' ``wss://`` origins allowed to connect to."""
    if not relay_origins:
        return WEB_HEADERS
    policy = WEB_HEADERS["Content-Security-Policy"].replace(
        "connect-src 'self'", "connect-src 'self' " + " ".join(relay_origins)
    )
    return {**WEB_HEADERS, "Content-Security-Policy": policy}


def create_app(broker: Broker) -> FastAPI:
    """The web application (``/relay`` is not in it: ``HttpsServer`` serves it)."""
    app = FastAPI(
        title="relaydesk broker",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive page would load scripts from a CDN
        redoc_url=None,
    )
    app.include_router(create_api(broker))

    index = (STATIC_DIR / "index.html").read_bytes()

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        """The server's own address: the join page."""
        return RedirectResponse("/j", status_code=307)

    @app.get("/j", include_in_schema=False)
    @app.get("/j/{session_id}", include_in_schema=False)
    @app.get("/host", include_in_schema=False)
    def web_client() -> Response:
        """The browser client: the join page (it reads the session ID from the address)
        or, at /host, the organizer's console; the page picks its view from the path."""
        return Response(index, media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def page_headers(broker: Broker) -> HeaderSource:
    """The headers of the broker's and the embedded server's answers (ops/headers.py)."""

    async def headers() -> Mapping[str, str]:
        # Registered relays change while the server runs: the policy is made per answer.
        return web_headers(await run_in_threadpool(broker.relays.origins))

    return headers
