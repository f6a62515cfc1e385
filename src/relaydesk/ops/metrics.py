"""Prometheus metrics (``/metrics``) and ``/healthz``, for every relaydesk process.

One ``CollectorRegistry`` per process (``Metrics``), never the global one, so tests can
run several servers in one interpreter. Every figure is read at scrape time from the part
that owns it (the hub's ``Traffic``, the broker's store), so none can drift from the truth.
No metric carries a name, a session ID or any content as a label: only counts and totals
(SECURITY.md, "What the relay may see").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relaydesk.relay.hub import RelayHub

Check = Callable[[], bool]
"""A health check: True when that part is fine (database reachable, broker link up...)."""

Reading = Callable[[], Mapping[str, float]]
"""Current figures by metric name (without the ``relaydesk_`` prefix)."""

# name -> (help, counter?): what the relay and the broker may report, and nothing else.
RELAY_METRICS = {
    "relay_connections": ("Open member connections", False),
    "relay_sessions": ("Live sessions on this relay", False),
    "relay_bytes_in": ("Bytes received from members", True),
    "relay_bytes_out": ("Bytes sent to members", True),
    "relay_refused_frames": ("Frames refused (not permitted, forged)", True),
    "relay_refused_hellos": ("Connections refused at HELLO", True),
    "relay_reports_failed": ("Requests to the broker that failed (retried)", True),
    "relay_records_dropped": ("Event records dropped: the report queue was full", True),
}
BROKER_METRICS = {
    "broker_live_sessions": ("Sessions not ended", False),
    "broker_alive_relays": ("Registered relays heard from recently", False),
}


def relay_figures(hub: RelayHub, **more: float) -> dict[str, float]:
    """The hub's traffic as relay metrics, with ``more`` (e.g. the reporter's counts)."""
    figures = {f"relay_{name}": float(value) for name, value in asdict(hub.traffic()).items()}
    return figures | {f"relay_{name}": value for name, value in more.items()}


class _Figures(Collector):
    def __init__(self, known: Mapping[str, tuple[str, bool]], read: Reading) -> None:
        self._known = known
        self._read = read

    def collect(self) -> Iterator[Metric]:
        figures = self._read()
        for name, (text, counter) in self._known.items():
            if name not in figures:
                continue
            family = CounterMetricFamily if counter else GaugeMetricFamily
            yield family(f"relaydesk_{name}", text, value=figures[name])


class Metrics:
    """One process's registry, reading the relay's and/or the broker's figures."""

    def __init__(self, *, relay: Reading | None = None, broker: Reading | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        if relay is not None:
            self.registry.register(_Figures(RELAY_METRICS, relay))
        if broker is not None:
            self.registry.register(_Figures(BROKER_METRICS, broker))

    def render(self) -> bytes:
        """The text exposition format, as Prometheus scrapes it."""
        return generate_latest(self.registry)


def routes(metrics: Metrics, checks: dict[str, Check] | None = None) -> list[Route]:
    """``GET /metrics`` and ``GET /healthz`` for a Starlette/FastAPI app:
    ``app.router.routes.extend(routes(metrics, {"database": ...}))``.

    ``/healthz`` answers 200 ``{"status": "ok"}`` when every check passes, else 503
    ``{"status": "failing", "failing": [names]}`` (a check that raises counts as failing).
    """
    named = dict(checks or {})

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_: Request) -> Response:
        failing = [name for name, check in named.items() if not _passes(check)]
        if failing:
            return JSONResponse({"status": "failing", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ok"})

    return [
        Route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False),
        Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
    ]


def _passes(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
