"""The embedded server's web application: the broker's API, the relay's WebSocket
endpoint and the browser client, on one port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from relaydesk import __version__
from relaydesk.broker.api import create_api
from relaydesk.broker.service import Broker
from relaydesk.relay import endpoint
from relaydesk.relay.hub import RelayHub
from relaydesk.web import STATIC_DIR

# The web client loads nothing from anywhere else and runs no inline script.
WEB_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(broker: Broker, hub: RelayHub) -> FastAPI:
    app = FastAPI(
        title="relaydesk broker",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive page would load scripts from a CDN
        redoc_url=None,
    )
    app.include_router(create_api(broker))

    @app.websocket("/relay")
    async def relay(websocket: WebSocket) -> None:
        await endpoint.serve(websocket, hub)

    index = (STATIC_DIR / "index.html").read_bytes()

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        """The server's own address: the join page."""
        return RedirectResponse("/j", status_code=307, headers=WEB_HEADERS)

    @app.get("/j", include_in_schema=False)
    @app.get("/j/{session_id}", include_in_schema=False)
    @app.get("/host", include_in_schema=False)
    def web_client() -> Response:
        """The browser client: the join page (it reads the session ID from the address)
        or, at /host, the organizer's console; the page picks its view from the path."""
        return Response(index, media_type="text/html; charset=utf-8", headers=WEB_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[..., Any]) -> Any:
        response = await call_next(request)
        for name, value in WEB_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
