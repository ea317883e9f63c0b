"""OpenTelemetry setup: trace ids, server spans, propagation, and many apps per process."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace.span import TraceState
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agora_chassis import telemetry
from agora_chassis.telemetry import (
    RecordWhenExported,
    TraceContextMiddleware,
    _otlp_endpoint,
    current_trace_id,
    export_spans,
    fastapi_telemetry,
    setup_telemetry,
)

SERVICE = "telemetry-test"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
TRACE_ID_HEX_DIGITS = 32


def make_app() -> FastAPI:
    app = FastAPI(telemetry=fastapi_telemetry())

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, str | None]:
        return {"trace_id": current_trace_id()}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    setup_telemetry(service_name=SERVICE, exporter="none", endpoint=None)
    return app


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    make_app()  # makes sure the process-wide provider exists
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    export_spans(SimpleSpanProcessor(exporter))
    return exporter


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_setup_telemetry_no_exporter_request_still_has_trace_id() -> None:
    async with client_for(make_app()) as client:
        trace_id = (await client.get("/items/1")).json()["trace_id"]

    assert trace_id is not None
    assert len(trace_id) == TRACE_ID_HEX_DIGITS
    assert int(trace_id, 16) != 0


def test_setup_telemetry_provider_has_service_name_resource() -> None:
    # The provider is process-wide and other tests may have set it first: use a fresh process.
    script = (
        "from opentelemetry import trace;"
        "from agora_chassis.telemetry import setup_telemetry;"
        f"setup_telemetry(service_name={SERVICE!r}, exporter='none', endpoint=None);"
        "print(trace.get_tracer_provider().resource.attributes['service.name'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == SERVICE


async def test_setup_telemetry_incoming_traceparent_continues_the_trace() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/items/1", headers={"traceparent": TRACEPARENT})

    assert response.json()["trace_id"] == TRACE_ID


async def test_setup_telemetry_server_span_is_named_by_route_template(
    spans: InMemorySpanExporter,
) -> None:
    spans.clear()
    async with client_for(make_app()) as client:
        await client.get("/items/7")

    assert "GET /items/{item_id}" in [span.name for span in spans.get_finished_spans()]


async def test_setup_telemetry_health_probes_get_no_span(spans: InMemorySpanExporter) -> None:
    spans.clear()
    async with client_for(make_app()) as client:
        await client.get("/health")
        await client.get("/items/3")

    assert [span.name for span in spans.get_finished_spans()] == ["GET /items/{item_id}"]


def make_untraced_app() -> FastAPI:
    """A service app whose spans go nowhere: ids from ``TraceContextMiddleware`` only."""
    app = FastAPI(telemetry=fastapi_telemetry(tracing=False))

    @app.get("/ids")
    async def ids() -> dict[str, str | None]:
        span = trace.get_current_span().get_span_context()
        return {"trace_id": current_trace_id(), "span_id": f"{span.span_id:016x}"}

    app.add_middleware(TraceContextMiddleware)
    setup_telemetry(service_name=SERVICE, exporter="none", endpoint=None)
    return app


async def test_trace_context_middleware_continues_the_callers_trace() -> None:
    async with client_for(make_untraced_app()) as client:
        answer = (await client.get("/ids", headers={"traceparent": TRACEPARENT})).json()

    assert answer["trace_id"] == TRACE_ID
    assert answer["span_id"] not in {"00f067aa0ba902b7", "0" * 16}  # a child, not the caller


async def test_trace_context_middleware_starts_a_trace_per_request() -> None:
    async with client_for(make_untraced_app()) as client:
        first = (await client.get("/ids")).json()["trace_id"]
        second = (await client.get("/ids")).json()["trace_id"]

    assert first is not None
    assert second is not None
    assert first != second
    assert int(first, 16) != 0


def test_trace_context_child_keeps_trace_and_state_but_is_a_new_unsampled_span() -> None:
    state = TraceState([("vendor", "value")])
    caller = trace.SpanContext(
        int(TRACE_ID, 16),
        0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        trace_state=state,
    )

    child = telemetry._child_context(trace.NonRecordingSpan(caller))

    assert (child.trace_id, child.trace_state) == (caller.trace_id, state)
    assert child.span_id not in {caller.span_id, 0}
    assert (child.is_remote, child.trace_flags.sampled) == (False, False)


def test_trace_context_without_caller_starts_a_new_trace() -> None:
    child = telemetry._child_context(trace.INVALID_SPAN)

    assert child.is_valid
    assert child.trace_state == TraceState()


async def test_fastapi_telemetry_without_tracing_records_no_request_span(
    spans: InMemorySpanExporter,
) -> None:
    app = FastAPI(telemetry=fastapi_telemetry(tracing=False))

    @app.get("/plain")
    async def plain() -> None:
        return None

    spans.clear()
    async with client_for(app) as client:
        await client.get("/plain")

    assert [span.name for span in spans.get_finished_spans()] == []


def test_record_when_exported_keeps_ids_but_records_nothing_until_exported() -> None:
    provider = TracerProvider(sampler=RecordWhenExported())
    exporter = InMemorySpanExporter()
    tracer = provider.get_tracer(__name__)

    with tracer.start_as_current_span("unexported") as dropped:
        trace_id = current_trace_id()
    export_spans(SimpleSpanProcessor(exporter), provider)
    with tracer.start_as_current_span("exported") as kept:
        pass

    assert not dropped.is_recording()
    assert trace_id == f"{dropped.get_span_context().trace_id:032x}"
    assert int(trace_id, 16) != 0
    assert kept.get_span_context().trace_flags.sampled
    assert [span.name for span in exporter.get_finished_spans()] == ["exported"]


def test_record_when_exported_keeps_the_parent_trace_state() -> None:
    sampler = RecordWhenExported()
    state = TraceState([("vendor", "value")])
    parent = trace.set_span_in_context(
        trace.NonRecordingSpan(
            trace.SpanContext(int(TRACE_ID, 16), 1, is_remote=True, trace_state=state)
        )
    )

    result = sampler.should_sample(parent, int(TRACE_ID, 16), "child")

    assert result.decision == Decision.DROP
    assert result.trace_state == state
    assert sampler.get_description() == "RecordWhenExported"


async def test_setup_telemetry_second_app_in_process_is_traced_too(
    spans: InMemorySpanExporter,
) -> None:
    make_app()
    second = make_app()
    spans.clear()
    async with client_for(second) as client:
        await client.get("/items/8")

    assert spans.get_finished_spans()


async def test_setup_telemetry_instruments_httpx() -> None:
    make_app()

    assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry


def test_current_trace_id_outside_span_is_none() -> None:
    assert current_trace_id() is None


def test_current_trace_id_inside_span_is_32_hex_digits() -> None:
    with TracerProvider().get_tracer(__name__).start_as_current_span("work") as span:
        trace_id = current_trace_id()

    assert trace_id == f"{span.get_span_context().trace_id:032x}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
        (None, None),
    ],
)
def test_otlp_endpoint_base_url_gets_traces_path(given: str | None, expected: str | None) -> None:
    assert _otlp_endpoint(given) == expected


@pytest.fixture
async def engine(postgres_server: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgres_server)
    yield engine
    await engine.dispose()


@pytest.mark.integration
async def test_setup_telemetry_with_engine_traces_sql_statements(
    spans: InMemorySpanExporter, engine: AsyncEngine
) -> None:
    setup_telemetry(service_name=SERVICE, exporter="none", endpoint=None, engine=engine)
    spans.clear()

    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))

    assert any(span.name.startswith("SELECT") for span in spans.get_finished_spans())


# A fresh process each: the provider is process-wide, and the module's fixture exports spans.
_ENGINE_LISTENERS = (
    "from sqlalchemy.ext.asyncio import create_async_engine;"
    "from agora_chassis.telemetry import setup_telemetry, export_spans;"
    "from opentelemetry.sdk.trace.export import SimpleSpanProcessor;"
    "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter;"
    "engine = create_async_engine('postgresql+asyncpg://u:p@127.0.0.1:1/db');"
    "count = lambda: len(engine.sync_engine.dispatch.before_cursor_execute);"
    "setup_telemetry(service_name='t', exporter={exporter!r}, endpoint=None, engine=engine);"
    "print(count());"
    "export_spans(SimpleSpanProcessor(InMemorySpanExporter()));"
    "print(count())"
)


def _engine_listener_counts(exporter: str) -> list[int]:
    result = subprocess.run(
        [sys.executable, "-c", _ENGINE_LISTENERS.format(exporter=exporter)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(line) for line in result.stdout.split()]


def test_setup_telemetry_no_exporter_leaves_the_engine_unwrapped_until_spans_are_exported() -> None:
    before, after = _engine_listener_counts("none")

    assert before == 0, f"with nothing exported the engine got {before} statement listeners"
    assert after > 0, "export_spans did not instrument the engine set up before it"


def test_setup_telemetry_console_exporter_instruments_the_engine_at_once() -> None:
    before, after = _engine_listener_counts("console")

    assert before > 0, "an exporting app's engine has no statement listener"
    assert after == before, "export_spans instrumented the engine a second time"


async def test_setup_telemetry_console_exporter_prints_each_span_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    printed = io.StringIO()
    monkeypatch.setattr(telemetry, "ConsoleSpanExporter", lambda: ConsoleSpanExporter(out=printed))
    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(telemetry, "_exporters_added", set())
    app = FastAPI(telemetry=fastapi_telemetry())

    @app.get("/things/{thing_id}")
    async def read_thing(thing_id: int) -> None:
        return None

    setup_telemetry(service_name=SERVICE, exporter="console", endpoint=None)
    setup_telemetry(service_name=SERVICE, exporter="console", endpoint=None)
    async with client_for(app) as client:
        await client.get("/things/1")

    assert printed.getvalue().count('"name": "GET /things/{thing_id}",') == 1


def test_setup_telemetry_otlp_exporter_adds_a_batch_processor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(telemetry, "_exporters_added", set())
    added: list[SpanProcessor] = []
    monkeypatch.setattr(provider, "add_span_processor", added.append)

    setup_telemetry(service_name=SERVICE, exporter="otlp", endpoint="http://c:4318")

    [processor] = added
    assert isinstance(processor, BatchSpanProcessor)
    processor.shutdown()  # type: ignore[no-untyped-call]
