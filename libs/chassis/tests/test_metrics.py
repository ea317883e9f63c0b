"""Prometheus metrics: route-template labels, exclusions, and the /metrics endpoint."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from agora_chassis.errors import install_error_handlers
from agora_chassis.metrics import HttpMetrics, install_metrics
from agora_chassis.middleware import install_http_middleware
from agora_chassis.state import service_state
from agora_testing.state import attach_test_state

SERVICE = "metrics-test"
MAX_BODY = 1024
USERS_TEMPLATE = "/api/v1/users/{user_id}"


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get(USERS_TEMPLATE)
    async def read_user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.post("/api/v1/uploads")
    async def upload() -> dict[str, bool]:
        return {"ok": True}

    install_http_middleware(app, cors_origins=[], max_body_bytes=MAX_BODY, debug=False)
    install_metrics(app, attach_test_state(app, metrics=HttpMetrics(SERVICE)).metrics)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://test"
    )


def requests_total(app: FastAPI, method: str, route: str, status: str) -> float | None:
    labels = {"service": SERVICE, "method": method, "route": route, "status": status}
    value = service_state(app).metrics.registry.get_sample_value("http_requests_total", labels)
    return None if value is None else float(value)


async def test_metrics_matched_request_is_labelled_by_route_template() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.get("/api/v1/users/42")
        exposition = (await client.get("/metrics")).text

    assert requests_total(app, "GET", USERS_TEMPLATE, "200") == 1.0
    assert "/api/v1/users/42" not in exposition


async def test_metrics_unmatched_path_is_labelled_unmatched() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.get("/no/such/path/123")

    assert requests_total(app, "GET", "unmatched", "404") == 1.0


async def test_metrics_request_duration_is_observed_per_template() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.get("/api/v1/users/1")
        await client.get("/api/v1/users/2")

    labels = {"service": SERVICE, "method": "GET", "route": USERS_TEMPLATE}
    count = service_state(app).metrics.registry.get_sample_value(
        "http_request_duration_seconds_count", labels
    )
    assert count == 2.0


async def test_metrics_scrape_itself_is_not_counted() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.get("/metrics")
        exposition = (await client.get("/metrics")).text

    assert requests_total(app, "GET", "/metrics", "200") is None
    assert 'route="/metrics"' not in exposition


async def test_metrics_endpoint_serves_text_exposition() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE http_requests_total counter" in response.text


async def test_metrics_rejected_body_is_counted_under_route_template() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.post("/api/v1/uploads", content=b"x" * (MAX_BODY + 1))

    assert requests_total(app, "POST", "/api/v1/uploads", "413") == 1.0


async def test_metrics_unhandled_error_is_counted_as_500() -> None:
    app = make_app()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with client_for(app) as client:
        await client.get("/boom")

    assert requests_total(app, "GET", "/boom", "500") == 1.0


async def test_metrics_two_apps_in_one_process_count_separately() -> None:
    first, second = make_app(), make_app()
    async with client_for(first) as client:
        await client.get("/api/v1/users/1")

    assert requests_total(first, "GET", USERS_TEMPLATE, "200") == 1.0
    assert requests_total(second, "GET", USERS_TEMPLATE, "200") is None


async def test_metrics_process_metrics_from_default_registry_are_exposed() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/metrics")

    assert "python_info" in response.text
