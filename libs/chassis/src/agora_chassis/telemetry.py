"""OpenTelemetry tracing: one provider per process, spans for FastAPI, httpx and SQLAlchemy.

The provider is set even when nothing is exported (``exporter="none"``): spans still get trace
ids, which the logs carry and outgoing calls propagate (``traceparent``), so one user action can
be followed across services from the logs alone.

OpenTelemetry allows the global provider to be set only once per process, so the first call
creates it and later calls (more apps in one test run) reuse it and only instrument their app.
"""

from __future__ import annotations

import weakref
from typing import Literal

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

Exporter = Literal["none", "console", "otlp"]

OTLP_TRACES_PATH = "/v1/traces"
# Probes and scrapes every few seconds would drown the traces people look for.
EXCLUDED_URLS = r"/health(/ready)?$,/metrics$"
SQLALCHEMY_CONNECTIONS_METRIC = "db.client.connections.usage"

_exporters_added: set[tuple[str, str | None]] = set()
_instrumented_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def current_trace_id() -> str | None:
    """Return the current span's trace id as 32 hex digits, or ``None`` outside a span.

    Returns:
        The trace id, or ``None``.
    """
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def _tracer_provider(service_name: str) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    trace.set_tracer_provider(provider)
    return provider


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
        return BatchSpanProcessor(OTLPSpanExporter(endpoint=_otlp_endpoint(endpoint)))
    return None


def _instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> None:
    sync_engine = engine.sync_engine
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
    app: FastAPI,
    *,
    service_name: str,
    exporter: Exporter,
    endpoint: str | None,
    engine: AsyncEngine | None = None,
) -> None:
    """Trace the app's requests, its outgoing httpx calls and its database statements.

    Args:
        app: The FastAPI application (before it starts).
        service_name: The ``service.name`` resource attribute.
        exporter: ``none`` (ids only), ``console`` (spans printed to stdout) or ``otlp``.
        endpoint: OTLP/HTTP collector URL (base or ``.../v1/traces``); ``None`` falls back to
            the standard ``OTEL_EXPORTER_OTLP_*`` variables.
        engine: The service's database engine, when it has one.
    """
    provider = _tracer_provider(service_name)
    key = (exporter, endpoint)
    if key not in _exporters_added and (processor := _span_processor(exporter, endpoint)):
        provider.add_span_processor(processor)
        _exporters_added.add(key)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS)
    httpx_instrumentor = HTTPXClientInstrumentor()
    if not httpx_instrumentor.is_instrumented_by_opentelemetry:
        httpx_instrumentor.instrument(tracer_provider=provider)
    if engine is not None:
        _instrument_engine(engine, provider)
