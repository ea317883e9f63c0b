"""Prometheus metrics for HTTP traffic and the ``GET /metrics`` endpoint.

Requests are labelled by the route *template* (``/api/v1/users/{user_id}``), never the raw path:
one label value per user id would grow the series without bound. Requests no route matched are
labelled ``unmatched``; scrapes of ``/metrics`` are not counted.

Each app gets its own ``CollectorRegistry`` (tests create many apps in one process, and a metric
can be registered only once per registry). ``/metrics`` also exposes the process-wide default
registry, so process and GC metrics, and any metric a service declares the usual way
(``prometheus_client.Counter(...)``), show up without extra wiring.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "unmatched"
ERROR_STATUS = 500
DURATION_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _DefaultRegistryCollector:
    """Expose the process-wide default registry through an app's own registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class HttpMetrics:
    """The HTTP metric set of one app, in its own registry.

    Args:
        service_name: Value of the ``service`` label.

    Attributes:
        registry: The registry ``/metrics`` renders.
        requests: ``http_requests_total{service,method,route,status}``.
        duration: ``http_request_duration_seconds{service,method,route}``.
    """

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self.registry = CollectorRegistry()
        self.registry.register(_DefaultRegistryCollector())
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by route template and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route template.",
            ["service", "method", "route"],
            buckets=DURATION_BUCKETS_SECONDS,
            registry=self.registry,
        )
        # Bounded: methods x route templates (or "unmatched") x statuses.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request.

        Args:
            method: HTTP method.
            route: Route template or ``unmatched``.
            status: Response status code.
            seconds: Duration of the request.
        """
        key = (method, route, status)
        if (children := self._children.get(key)) is None:
            # ``labels()`` takes a lock and builds the label tuple each time: keep the children.
            children = self._children[key] = (
                self.requests.labels(self.service_name, method, route, str(status)),
                self.duration.labels(self.service_name, method, route),
            )
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)


def _route_template(scope: Scope, routes: Iterable[BaseRoute]) -> str:
    """Return the template of the route that handled (or would handle) the request."""
    route = scope.get("route")
    if route is None:
        # A middleware may have answered before routing (a 413, a 504); match it ourselves.
        route = next((r for r in routes if r.matches(scope)[0] != Match.NONE), None)
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Count and time every HTTP request by method, route template and status.

    Args:
        app: The ASGI application to wrap.
        metrics: Where to record.
        routes: The routes to match requests that never reached the router.
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        status = ERROR_STATUS
        started_at = time.perf_counter()

        async def send_capturing_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_capturing_status)
        finally:
            self.metrics.observe(
                str(scope["method"]),
                _route_template(scope, self.routes),
                status,
                time.perf_counter() - started_at,
            )


def install_metrics(app: FastAPI, metrics: HttpMetrics) -> None:
    """Record HTTP metrics for an app and serve them at ``GET /metrics``.

    Call it after ``install_http_middleware`` so that answers given by those middlewares (413,
    504) are counted too. ``create_service_app`` keeps the metric set in the app's
    ``ServiceState.metrics``.

    Args:
        app: The FastAPI application (before it starts).
        metrics: The app's metric set (its ``service`` label names the service).
    """

    async def render_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.add_api_route(
        METRICS_PATH,
        render_metrics,
        methods=["GET"],
        include_in_schema=False,
        response_class=Response,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.router.routes)
