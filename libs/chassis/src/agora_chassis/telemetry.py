"""OpenTelemetry tracing: one provider per process, spans for FastAPI, httpx and SQLAlchemy.

Requests are traced by FastAPI's own telemetry (one server span per request, named by its route
template; :func:`fastapi_telemetry`), httpx calls and SQL statements by their instrumentations.
SQL statements are traced only once spans are exported (:func:`export_spans`): a statement span
carries no id the logs or other services use, and starting and dropping one cost about 90 µs a
statement (ADR 0012).

The provider is set even when nothing is exported (``exporter="none"``): spans still get trace
ids, which the logs carry and outgoing calls propagate (``traceparent``), so one user action can
be followed across services from the logs alone. Spans are *recorded* only while a processor
receives them (:class:`RecordWhenExported`): with no exporter, a span is its ids and nothing else,
which saves a cached read about a sixth of its CPU.

OpenTelemetry allows the global provider to be set only once per process, so the first call
creates it and later calls (more apps in one test run) reuse it.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import MutableMapping, Sequence
from typing import Any, Literal

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanContext, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

Exporter = Literal["none", "console", "otlp"]

OTLP_TRACES_PATH = "/v1/traces"
# Probes and scrapes every few seconds would drown the traces people look for.
EXCLUDED_PATHS = re.compile(r"/health(/ready)?$|/metrics$")
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_IDS = RandomIdGenerator()
SQLALCHEMY_CONNECTIONS_METRIC = "db.client.connections.usage"
SERVICE_NAME_UNSET = "unknown_service"

_exporters_added: set[tuple[str, str | None]] = set()
_instrumented_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
# Engines handed to setup_telemetry while nothing exported: instrumented when export_spans runs.
_engines_waiting: weakref.WeakSet[Engine] = weakref.WeakSet()


def current_trace_id() -> str | None:
    """Return the current span's trace id as 32 hex digits, or ``None`` outside a span.

    Returns:
        The trace id, or ``None``.
    """
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


class RecordWhenExported(Sampler):
    """Sample as ``ParentBased(ALWAYS_ON)`` while spans are exported; otherwise keep ids only.

    A dropped span still gets a trace and a span id (logs and ``traceparent`` carry them), but
    none of its attributes, events or timings are kept. :func:`export_spans` switches recording
    on for the provider it adds a processor to.
    """

    def __init__(self) -> None:
        self.exporting = False
        self._delegate = ParentBased(ALWAYS_ON)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """Delegate while exporting; drop otherwise, keeping the parent's trace state."""
        if self.exporting:
            return self._delegate.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        parent = trace.get_current_span(parent_context).get_span_context()
        return SamplingResult(Decision.DROP, trace_state=parent.trace_state)

    def get_description(self) -> str:
        """Name the sampler (shown by the SDK's debugging output)."""
        return "RecordWhenExported"


def export_spans(processor: SpanProcessor, provider: TracerProvider | None = None) -> None:
    """Send the process's spans to ``processor`` (and start recording them).

    Args:
        processor: Where finished spans go (an exporter's processor; tests pass an in-memory one).
        provider: The provider; the process-wide one by default.
    """
    provider = provider or _tracer_provider(SERVICE_NAME_UNSET)
    provider.add_span_processor(processor)
    if isinstance(provider.sampler, RecordWhenExported):
        provider.sampler.exporting = True
    for engine in list(_engines_waiting):
        _engines_waiting.discard(engine)
        _instrument_engine(engine, provider)


def _tracer_provider(service_name: str) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}), sampler=RecordWhenExported()
    )
    trace.set_tracer_provider(provider)
    return provider


def _excluded(scope: MutableMapping[str, Any]) -> bool:
    return bool(EXCLUDED_PATHS.search(str(scope.get("path", ""))))


def fastapi_telemetry(*, tracing: bool = True) -> TelemetryConfig:
    """FastAPI's telemetry settings for a service app (``FastAPI(telemetry=...)``).

    One server span per request, none for health probes and scrapes; no OpenTelemetry metrics
    (Prometheus serves them: :mod:`agora_chassis.metrics`), no per-dependency spans, and no log
    records (errors are logged as JSON lines already).

    Args:
        tracing: Trace requests; off when nothing exports spans (see
            :class:`TraceContextMiddleware`, which keeps the ids for much less).

    Returns:
        The settings.
    """
    return {
        "tracing": tracing,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "exclude": _excluded,
    }


class TraceContextMiddleware:
    """Give each request a trace context, without FastAPI's span: ids for logs and outgoing calls.

    For apps whose spans go nowhere (``exporter="none"``): a caller's ``traceparent`` is
    continued, otherwise a trace starts here; logs and outgoing calls carry the ids either way.
    FastAPI's own request telemetry costs a cached read about an eighth of its CPU even when its
    span is dropped; this costs a fraction of that.

    Args:
        app: The ASGI application to wrap.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        # Nothing to extract without trace headers (the usual case): the propagators are skipped.
        parent = propagate.extract(carrier) if carrier else otel_context.get_current()
        span = trace.NonRecordingSpan(_child_context(trace.get_current_span(parent)))
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def _child_context(parent: trace.Span) -> SpanContext:
    """A new span's ids under ``parent`` (a new trace without one), as a dropped span gets them.

    Built here rather than by the SDK's tracer, which would ask the sampler and build a span only
    to drop it: the ids and ``trace_state`` are all the logs and outgoing calls need, and the
    flags say "not sampled", as :class:`RecordWhenExported` decides without an exporter.
    """
    context = parent.get_span_context()
    trace_id = context.trace_id if context.is_valid else _IDS.generate_trace_id()
    trace_state = context.trace_state if context.is_valid else None
    return SpanContext(trace_id, _IDS.generate_span_id(), is_remote=False, trace_state=trace_state)


def _otlp_endpoint(endpoint: str | None) -> str | None:
    """Accept a collector's base URL as well as its full traces URL."""
    if endpoint is None or endpoint.rstrip("/").endswith(OTLP_TRACES_PATH):
        return endpoint
    return endpoint.rstrip("/") + OTLP_TRACES_PATH


def _span_processor(exporter: Exporter, endpoint: str | None) -> SpanProcessor | None:
    if exporter == "console":
        # Synchronous, so development output appears next to the request's log lines.
        return SimpleSpanProcessor(ConsoleSpanExporter())
    if exporter == "otlp":
        # Imported only here: the exporter and protobuf are some 70 modules (3 MiB) a service
        # that exports nothing (the default) never needs.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter(endpoint=_otlp_endpoint(endpoint)))
    return None


def _exporting(provider: TracerProvider) -> bool:
    """Whether spans of ``provider`` go anywhere (a provider not built here: assume they do)."""
    sampler = provider.sampler
    return not isinstance(sampler, RecordWhenExported) or sampler.exporting


def _instrument_engine(sync_engine: Engine, provider: TracerProvider) -> None:
    if sync_engine in _instrumented_engines:
        return
    _instrumented_engines.add(sync_engine)
    # The engine's own listener rather than ``SQLAlchemyInstrumentor().instrument()``: that one is
    # a process-wide singleton (it takes an engine only on its first call), patches
    # ``create_engine`` globally, and refuses SQLAlchemy versions newer than it declares.
    tracer = trace.get_tracer(__name__, tracer_provider=provider)
    connections = metrics.get_meter(__name__).create_up_down_counter(
        name=SQLALCHEMY_CONNECTIONS_METRIC, unit="connections"
    )
    EngineTracer(tracer, sync_engine, connections)  # type: ignore[no-untyped-call]


def setup_telemetry(
    *,
    service_name: str,
    exporter: Exporter,
    endpoint: str | None,
    engine: AsyncEngine | None = None,
) -> None:
    """Trace outgoing httpx calls and database statements, and export spans as configured.

    Requests are traced by FastAPI itself once a provider exists: build the app with
    ``FastAPI(telemetry=fastapi_telemetry())``.

    Args:
        service_name: The ``service.name`` resource attribute.
        exporter: ``none`` (ids only), ``console`` (spans printed to stdout) or ``otlp``.
        endpoint: OTLP/HTTP collector URL (base or ``.../v1/traces``); ``None`` falls back to
            the standard ``OTEL_EXPORTER_OTLP_*`` variables.
        engine: The service's database engine, when it has one; its statements are traced
            once spans are exported (now, or when :func:`export_spans` runs later).
    """
    provider = _tracer_provider(service_name)
    key = (exporter, endpoint)
    if key not in _exporters_added and (processor := _span_processor(exporter, endpoint)):
        export_spans(processor, provider)
        _exporters_added.add(key)
    httpx_instrumentor = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(tracer_provider=provider)
    if engine is None:
        return
    if _exporting(provider):
        _instrument_engine(engine.sync_engine, provider)
    else:
        _engines_waiting.add(engine.sync_engine)
