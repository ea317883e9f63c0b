"""Unit tests of the gateway's error service: every answer is Problem Details."""

from __future__ import annotations

import httpx
import pytest

from agora_cli.gateway_errors import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


async def call(method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """One request to the app, in process."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://errors.test") as client:
        return await client.request(method, path, headers=headers)


async def test_gateway_errors_catch_all_404_names_the_original_path() -> None:
    response = await call("GET", "/404", {"X-Replaced-Path": "/catalog/metrics?x=1"})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://agora.dev/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "No API or page is served at this path.",
        "instance": "/catalog/metrics",
    }


@pytest.mark.parametrize(
    ("status", "title", "retry_after"),
    [(502, "Bad Gateway", "5"), (503, "Service Unavailable", "5"), (504, "Gateway Timeout", None)],
)
async def test_gateway_errors_upstream_down_answers_that_status(
    status: int, title: str, retry_after: str | None
) -> None:
    url = "http%3A%2F%2F127.0.0.1%3A8080%2Fapi%2Fv1%2Fproducts%3Fpage%3D2"
    response = await call("GET", f"/{status}?url={url}")

    body = response.json()
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert set(body) == PROBLEM_KEYS
    assert (body["status"], body["title"], body["instance"]) == (
        status,
        title,
        "/api/v1/products",
    )
    assert response.headers.get("retry-after") == retry_after


async def test_gateway_errors_upstream_down_behind_a_stripped_prefix_names_the_full_path() -> None:
    response = await call("GET", "/502?url=/metrics", {"X-Forwarded-Prefix": "/catalog"})
    assert response.json()["instance"] == "/catalog/metrics"


async def test_gateway_errors_405_is_problem_details() -> None:
    response = await call("GET", "/405?url=/api/overview")
    assert (response.status_code, response.json()["title"]) == (405, "Method Not Allowed")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/999"), ("POST", "/anything/else"), ("DELETE", "/")]
)
async def test_gateway_errors_any_other_path_or_method_is_404(method: str, path: str) -> None:
    response = await call(method, path)
    assert response.status_code == 404
    assert response.json()["instance"] == path


async def test_gateway_errors_health_answers_ok() -> None:
    response = await call("GET", "/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
