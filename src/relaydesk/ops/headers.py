"""Security headers on every HTTP answer of every relaydesk process (SECURITY.md,
"Security headers"): pages, static files, API answers, error pages, ``/metrics`` and
``/healthz``, of the broker, the relay and the embedded server alike.

``SecurityHeaders`` wraps the whole ASGI application where the HTTPS server takes it
(server/serving.py), outside every framework middleware, so even the framework's own 500
page carries them. A header the application set itself is left as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# For answers that are not the web client's pages: nothing may load, frame or embed them.
BASE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Powerful features no relaydesk page uses; sharing the screen (display-capture) is the
    # web client's own, on its own origin. Camera and microphone are not listed: Chromium
    # checks them when a page asks to share its screen, and would report a violation.
    "Permissions-Policy": (
        "geolocation=(), payment=(), usb=(), serial=(), hid=(), bluetooth=(), "
        "display-capture=(self)"
    ),
    # Browsers that once reached the server go on using HTTPS only (a year, as is usual).
    "Strict-Transport-Security": "max-age=31536000",
}

HeaderSource = Callable[[], Awaitable[Mapping[str, str]]]


async def base_headers() -> Mapping[str, str]:
    return BASE_HEADERS


class SecurityHeaders:
    """ASGI middleware: ``headers()`` (made anew for each request: a policy may change
    while the server runs) added to every HTTP response the application starts."""

    def __init__(self, app: ASGIApp, headers: HeaderSource = base_headers) -> None:
        self.app = app
        self._headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in
                 (await self._headers()).items()]  # fmt: skip

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
